/**
 * The one top-level catch of every ku program: a KuError becomes its exit
 * code, with the code, message and hint on stderr (or a JSON result line on
 * stdout under --json / when stdout is not a terminal); anything else is an
 * internal error.
 */
import { exitCodeOf, KuError } from '../proto/errors.js';

/** Print a refusal of a whole command. */
export function printFailure(err: KuError, op: string, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ host: null, op, ok: false, error: err.toBody(), durationMs: 0, auditId: null })}\n`);
  else {
    const red = process.stderr.isTTY && !process.env.NO_COLOR ? (s: string) => `\x1b[31m${s}\x1b[0m` : (s: string) => s;
    process.stderr.write(`${red(`error: ${err.code}`)}: ${err.message}\n  hint: ${err.hint}\n`);
  }
}

/** Run a program's entry point and set the exit code. */
export function runMain(name: string, fn: (argv: string[]) => Promise<number>): void {
  const argv = process.argv.slice(2);
  // `ku ops | head`: the reader went away. End quietly, as a Unix filter does on SIGPIPE.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
  fn(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const err = e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', e instanceof Error ? (e.stack ?? e.message) : String(e));
      printFailure(err, name, argv.includes('--json') || !process.stdout.isTTY);
      process.exitCode = exitCodeOf(err.code);
    },
  );
}
