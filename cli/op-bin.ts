/**
 * The generic op CLI: `ku-diag`, `ku-sys`, `ku-pg`, `ku-slurm`, `ku-k8s` are
 * this file over the catalogue entries of their bin. Adding an op to the
 * catalogue adds its command here; no CLI code is written per op.
 */
import { catalogue } from '../proto/catalogue/index.js';
import { KuError } from '../proto/errors.js';
import { EXIT } from '../proto/exit-codes.js';
import type { OpBin, OpSpec } from '../proto/op-spec.js';
import type { RunEvent } from '../proto/wire.js';
import { parseDuration } from '../runtime/duration.js';
import { parseShare } from '../runtime/share.js';
import { opHelp, parseOpArgs, validateParams } from './args.js';
import { RunPrinter } from './fanout.js';
import { exitCodeFor, printCallError, processOut } from './output.js';
import { resolveSettings } from './settings.js';

const BIN_BLURB: Record<OpBin, string> = {
  'ku-diag': 'read-only diagnostics of hosts and services',
  'ku-sys': 'systemd units: status and allowlisted restarts',
  'ku-pg': 'PostgreSQL: safe concurrent index lifecycle and query analysis',
  'ku-slurm': 'Slurm: job inspection and validated resubmission',
  'ku-k8s': 'Kubernetes: read-only logs of unready pods',
};

function commandsOf(bin: OpBin): OpSpec[] {
  return catalogue.list().filter((s) => s.cli.bin === bin);
}

function binHelp(bin: OpBin): string {
  const cmds = commandsOf(bin);
  const lines = [`${bin}: ${BIN_BLURB[bin]}`, '', `Usage: ${bin} COMMAND [args] [flags]`, ''];
  if (cmds.length === 0) lines.push('No commands yet: this release has no operations of this family in its catalogue.');
  else {
    lines.push('Commands:');
    for (const s of cmds) lines.push(`  ${s.cli.command.padEnd(20)}${s.summary}${s.mutates ? ' (changes the target)' : ''}`);
    lines.push('', `Run \`${bin} COMMAND --help\` for a command's flags.`);
  }
  lines.push('', 'Environment: KU_HUB (hub HOST:PORT), KU_IDENTITY (identity directory), KU_SESSION (audit session id).');
  return lines.join('\n');
}

/** Entry point of one op bin. */
export async function runOpBin(bin: OpBin, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${binHelp(bin)}\n`);
    return cmd ? EXIT.ok : EXIT.input;
  }
  const spec = commandsOf(bin).find((s) => s.cli.command === cmd || s.cli.aliases?.includes(cmd));
  if (!spec) throw new KuError('KU_ERR_USAGE', `${bin} has no command ${JSON.stringify(cmd)}; run \`${bin} --help\``);
  const { params, common } = parseOpArgs(spec, rest);
  if (common.help) {
    process.stdout.write(`${opHelp(spec)}\n`);
    return EXIT.ok;
  }
  const out = processOut(common.json);
  // Safety layer 1: bad input stops here, before anything is sent.
  const valid = validateParams(spec, params);
  let timeoutMs = 0;
  if (common.timeout) {
    try {
      timeoutMs = parseDuration(common.timeout);
    } catch (e) {
      throw new KuError('KU_ERR_USAGE', `--timeout: ${(e as Error).message}`);
    }
  }
  if (common.host && common.selector) throw new KuError('KU_ERR_USAGE', 'use --host or --selector, not both');
  for (const [flag, v] of [['--max-concurrency', common['max-concurrency']], ['--max-errors', common['max-errors']]] as const) {
    // The hub's own parser, so the CLI refuses exactly what the hub would, before sending.
    if (v !== undefined) {
      try {
        parseShare(v, 1, flag);
      } catch (e) {
        throw new KuError('KU_ERR_USAGE', (e as Error).message);
      }
    }
  }
  const settings = resolveSettings(common, env);
  const { HubClient } = await import('./client.js');
  const client = new HubClient(settings);
  const printer = new RunPrinter(out, !out.json && !!process.stderr.isTTY);
  const ac = new AbortController();
  const onSig = (): void => ac.abort();
  process.once('SIGINT', onSig);
  try {
    await client.run(
      {
        op: spec.name,
        params_json: JSON.stringify(valid),
        hosts: common.host ?? [],
        selector: common.selector ?? '',
        timeout_ms: timeoutMs,
        session: settings.session,
        max_concurrency: common['max-concurrency'] ?? '',
        max_errors: common['max-errors'] ?? '',
      },
      (ev: RunEvent) => printer.onEvent(ev),
      ac.signal,
    );
  } catch (e) {
    const err = e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', String(e));
    if (ac.signal.aborted && printer.many) {
      printer.finish(); // Ctrl-C: new starts stopped, running ones cancelled; say who did not answer
      return EXIT.unavailable;
    }
    printCallError(out, err, spec.name);
    return exitCodeFor([{ host: null, op: spec.name, ok: false, error: err.toBody(), durationMs: 0, auditId: null }]);
  } finally {
    process.off('SIGINT', onSig);
    client.close();
  }
  printer.finish();
  const results = printer.results;
  return exitCodeFor(results);
}
