/**
 * Command-line flags derived from an op's zod params schema (through its JSON
 * Schema), so the CLI cannot drift from the catalogue. camelCase params become
 * kebab-case flags; `cli.positional` params may also be given positionally.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { KuError } from '../proto/errors.js';
import type { OpSpec } from '../proto/op-spec.js';

interface PropSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: PropSchema;
  minimum?: number;
  maximum?: number;
}

/** One flag of an op command. */
export interface ParamFlag {
  param: string;
  flag: string;
  kind: 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'number[]';
  description: string;
  required: boolean;
  default?: unknown;
  enum?: unknown[];
}

export const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The flags of an op, from its params schema. */
export function paramFlags(spec: OpSpec): ParamFlag[] {
  const js = z.toJSONSchema(spec.params, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, PropSchema>; required?: string[] };
  const required = new Set(js.required ?? []);
  return Object.entries(js.properties ?? {}).map(([param, p]) => {
    const t = Array.isArray(p.type) ? p.type.find((x) => x !== 'null') : p.type;
    let kind: ParamFlag['kind'] = 'string';
    if (t === 'boolean') kind = 'boolean';
    else if (t === 'integer' || t === 'number') kind = t;
    else if (t === 'array') kind = p.items?.type === 'number' || p.items?.type === 'integer' ? 'number[]' : 'string[]';
    const f: ParamFlag = { param, flag: kebab(param), kind, description: p.description ?? '', required: required.has(param) };
    if (p.default !== undefined) f.default = p.default;
    if (p.enum) f.enum = p.enum;
    return f;
  });
}

/** Flags every op command takes besides its params. */
export const COMMON_FLAGS = {
  host: { type: 'string', multiple: true },
  selector: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  hub: { type: 'string' },
  identity: { type: 'string' },
  session: { type: 'string' },
  'max-concurrency': { type: 'string' },
  'max-errors': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ParsedOpArgs {
  params: Record<string, unknown>;
  common: {
    host?: string[];
    selector?: string;
    timeout?: string;
    json?: boolean;
    hub?: string;
    identity?: string;
    session?: string;
    help?: boolean;
    'max-concurrency'?: string;
    'max-errors'?: string;
  };
}

function toNumber(flag: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new KuError('KU_ERR_INVALID_PARAMS', `--${flag}: ${JSON.stringify(v)} is not ${integer ? 'an integer' : 'a number'}`);
  return n;
}

/** Parse argv of an op command into params (not yet validated) and common flags. */
export function parseOpArgs(spec: OpSpec, argv: string[]): ParsedOpArgs {
  const flags = paramFlags(spec);
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { ...COMMON_FLAGS };
  for (const f of flags) {
    if (Object.hasOwn(options, f.flag)) continue;
    options[f.flag] = { type: f.kind === 'boolean' ? 'boolean' : 'string', ...(f.kind.endsWith('[]') ? { multiple: true } : {}) };
    if (f.kind === 'boolean') options[`no-${f.flag}`] = { type: 'boolean' };
  }
  // Flag aliases (`--for-query` for `--query`) become the flag itself; giving both is an error.
  const aliases = spec.cli.flagAliases ?? {};
  const seen = new Map<string, string>();
  argv = argv.map((a) => {
    const m = /^--([a-z][a-z0-9-]*)(=.*)?$/.exec(a);
    if (!m) return a;
    const target = aliases[m[1]!] ?? m[1]!;
    if (Object.values(aliases).includes(target)) {
      const before = seen.get(target);
      if (before && before !== m[1]) throw new KuError('KU_ERR_USAGE', `--${before} and --${m[1]} are the same flag; give one`);
      seen.set(target, m[1]!);
    }
    return `--${target}${m[2] ?? ''}`;
  });
  // A flag that takes a value takes the next argument, even one starting with "-" (a negative pg
  // queryid, or `--add-flags "--requeue --mem=32G"`), as getopt does.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : '';
    if (name && options[name]?.type === 'string' && next !== undefined && next.startsWith('-')) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new KuError('KU_ERR_USAGE', (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const v = parsed.values as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  const positional = spec.cli.positional ?? [];
  if (parsed.positionals.length > positional.length) {
    throw new KuError('KU_ERR_USAGE', `unexpected argument ${JSON.stringify(parsed.positionals[positional.length])}${positional.length ? ` (takes ${positional.map((p) => kebab(p).toUpperCase()).join(' ')})` : ''}`);
  }
  for (const f of flags) {
    const raw = v[f.flag];
    if (f.kind === 'boolean') {
      if (raw === true) params[f.param] = true;
      if (v[`no-${f.flag}`] === true) params[f.param] = false;
    } else if (raw !== undefined) {
      if (f.kind === 'string') params[f.param] = raw;
      else if (f.kind === 'string[]') params[f.param] = raw;
      else if (f.kind === 'number[]') params[f.param] = (raw as string[]).map((x) => toNumber(f.flag, x, false));
      else params[f.param] = toNumber(f.flag, raw as string, f.kind === 'integer');
    }
  }
  positional.forEach((p, i) => {
    const val = parsed.positionals[i];
    if (val === undefined) return;
    const f = flags.find((x) => x.param === p);
    if (params[p] !== undefined) throw new KuError('KU_ERR_USAGE', `${kebab(p)} given both as argument and as --${kebab(p)}`);
    params[p] = f?.kind === 'integer' || f?.kind === 'number' ? toNumber(kebab(p), val, f.kind === 'integer') : f?.kind === 'string[]' ? [val] : val;
  });
  const common: ParsedOpArgs['common'] = {};
  for (const k of Object.keys(COMMON_FLAGS) as (keyof typeof COMMON_FLAGS)[]) if (v[k] !== undefined) (common as Record<string, unknown>)[k] = v[k];
  return { params, common };
}

/** Validate params against the spec; the CLI refuses bad input before sending anything. */
export function validateParams(spec: OpSpec, params: Record<string, unknown>): Record<string, unknown> {
  const r = spec.params.safeParse(params);
  if (r.success) return r.data as Record<string, unknown>;
  const issues = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new KuError(
    'KU_ERR_INVALID_PARAMS',
    issues.map((i) => `${i.path ? `--${kebab(i.path.split('.')[0]!)}` : 'params'}: ${i.message}`).join('; '),
    { issues },
  );
}

/** Help text of one op command. */
export function opHelp(spec: OpSpec): string {
  const flags = paramFlags(spec);
  const pos = (spec.cli.positional ?? []).map((p) => kebab(p).toUpperCase());
  const lines = [
    `${spec.cli.bin} ${spec.cli.command}${pos.length ? ` [${pos.join(' ')}]` : ''} [flags]`,
    '',
    `${spec.summary}.`,
    `Operation ${spec.name}; ${spec.mutates ? 'CHANGES the target' : 'read-only'}; risk ${spec.risk}; default timeout ${spec.timeoutMs / 1000}s.`,
    '',
    'Flags:',
  ];
  const aliasesOf = (flag: string): string[] => Object.entries(spec.cli.flagAliases ?? {}).filter(([, t]) => t === flag).map(([a]) => `also --${a}`);
  for (const f of flags) {
    const val = f.kind === 'boolean' ? '' : f.enum ? ` ${f.enum.join('|')}` : f.kind.startsWith('number') || f.kind === 'integer' ? ' N' : ' VALUE';
    const extra = [f.required ? 'required' : '', f.default !== undefined ? `default ${JSON.stringify(f.default)}` : '', f.kind.endsWith('[]') ? 'repeatable' : '', ...aliasesOf(f.flag)].filter(Boolean).join(', ');
    lines.push(`  --${f.flag}${val}`.padEnd(30) + `${f.description}${extra ? ` (${extra})` : ''}`);
  }
  lines.push(
    '',
    'Targeting and output:',
    '  --host NAME'.padEnd(30) + 'run on this agent (repeatable)',
    '  --selector SEL'.padEnd(30) + "run on agents whose labels match, e.g. 'env=prod,role!=db'",
    '  --timeout DUR'.padEnd(30) + 'deadline per host, e.g. 30s or 5m',
    '  --max-concurrency N|P%'.padEnd(30) + 'hosts at once (required for changes on several hosts)',
    '  --max-errors N|P%'.padEnd(30) + 'stop starting hosts once more than this many failed',
    '  --json'.padEnd(30) + 'JSON lines (the default when stdout is not a terminal)',
    '  --hub HOST:PORT'.padEnd(30) + 'hub address (env KU_HUB)',
    '  --identity DIR'.padEnd(30) + 'principal identity directory (env KU_IDENTITY)',
    '  --session ID'.padEnd(30) + 'session id recorded in the audit log (env KU_SESSION)',
    '',
    'With neither --host nor --selector the command runs on the one connected agent that offers it.',
    'Exit codes: 0 ok, 1 failed on a target, 2 bad input, 3 denied, 4 hub/agent unreachable or timed out.',
  );
  return lines.join('\n');
}
