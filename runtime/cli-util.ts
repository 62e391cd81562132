import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KuError } from '../proto/errors.js';

/** parseArgs with usage errors as KuError (exit 2). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  positionals = 0,
): { values: { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string } & { help?: boolean }; positionals: string[] } {
  let r;
  try {
    r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new KuError('KU_ERR_USAGE', (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (r.positionals.length > positionals && !(r.values as { help?: boolean }).help) throw new KuError('KU_ERR_USAGE', `unexpected argument ${JSON.stringify(r.positionals[positionals])}`);
  return r as never;
}

/** Require a flag; KU_ERR_USAGE names it. */
export function need<T>(v: T | undefined, flag: string): T {
  if (v === undefined || v === '') throw new KuError('KU_ERR_USAGE', `missing ${flag}`);
  return v;
}

/** A tiny subcommand table: name → [summary, handler]. */
export type Commands = Record<string, readonly [summary: string, run: (argv: string[]) => Promise<number>]>;

/** Dispatch to a subcommand or print the help of the group. */
export async function dispatch(prog: string, blurb: string, commands: Commands, argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const help = (): string =>
    [`${prog}: ${blurb}`, '', `Usage: ${prog} COMMAND [flags]`, '', 'Commands:', ...Object.entries(commands).map(([n, [s]]) => `  ${n.padEnd(22)}${s}`), '', `Run \`${prog} COMMAND --help\` for a command's flags.`].join('\n');
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${help()}\n`);
    return cmd ? 0 : 2;
  }
  // Two-word commands ("token create", "audit verify") are keys with a space.
  const two = rest[0] !== undefined ? commands[`${cmd} ${rest[0]}`] : undefined;
  if (two) return two[1](rest.slice(1));
  const one = commands[cmd];
  if (!one) {
    const group = Object.keys(commands).filter((k) => k.startsWith(`${cmd} `));
    if (group.length) throw new KuError('KU_ERR_USAGE', `${prog} ${cmd} needs one of: ${group.map((g) => g.split(' ')[1]).join(', ')}`);
    throw new KuError('KU_ERR_USAGE', `${prog} has no command ${JSON.stringify(cmd)}; run \`${prog} --help\``);
  }
  return one[1](rest);
}

/** Print a command's help when --help was given; returns true if it did. */
export function helpIf(flag: boolean | undefined, text: string): boolean {
  if (flag) process.stdout.write(`${text}\n`);
  return !!flag;
}
