/**
 * `--add-flags` is parsed, never passed through: each token must be `--name` or `--name=value`
 * for a flag in the agent's allowlist, with a value of plain characters within that flag's limit.
 * Flags that can run commands or move the job elsewhere are refused even if configured.
 */
import { z } from 'zod';
import { KuError } from '../../proto/errors.js';
import { memMB, timeSec } from './parse.js';

/** Never allowed: they run arbitrary commands, change identity or environment, or move the job. */
export const FORBIDDEN_FLAGS = new Set([
  'wrap', 'export', 'export-file', 'chdir', 'D', 'uid', 'gid', 'get-user-env', 'container', 'container-id', 'bb', 'bbf',
  'input', 'output', 'error', 'open-mode', 'propagate', 'batch', 'begin', 'dependency', 'parsable', 'test-only', 'wait',
]);

/** The flags ku knows how to check, and how. */
const KNOWN = {
  requeue: 'none',
  'no-requeue': 'none',
  mem: 'size',
  'mem-per-cpu': 'size',
  time: 'time',
  'cpus-per-task': 'count',
  ntasks: 'count',
  partition: 'choice',
  qos: 'choice',
} as const;

export const FlagLimitsSchema = z
  .object({
    requeue: z.object({}).strict().optional(),
    'no-requeue': z.object({}).strict().optional(),
    mem: z.object({ max: z.string().regex(/^\d+[KMGT]?$/i) }).strict().optional(),
    'mem-per-cpu': z.object({ max: z.string().regex(/^\d+[KMGT]?$/i) }).strict().optional(),
    time: z.object({ max: z.string() }).strict().optional(),
    'cpus-per-task': z.object({ max: z.number().int().min(1) }).strict().optional(),
    ntasks: z.object({ max: z.number().int().min(1) }).strict().optional(),
    partition: z.object({ allowed: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/)).min(1) }).strict().optional(),
    qos: z.object({ allowed: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/)).min(1) }).strict().optional(),
  })
  .strict()
  .describe('sbatch flags that may be added, each with its limit; anything else is refused');

export type FlagLimits = z.output<typeof FlagLimitsSchema>;

const refuse = (token: string, why: string): KuError => new KuError('KU_ERR_SLURM_FLAG_REFUSED', `refused ${JSON.stringify(token)}: ${why}`, { token, why });

/** Parse and check `--add-flags`; returns normalized `--name[=value]` tokens by name. */
export function parseAddFlags(text: string, limits: FlagLimits): Map<string, string> {
  const out = new Map<string, string>();
  const shell = /[;&|`$<>(){}\[\]*?!~'"\\\n\r\t#]/;
  for (const token of text.trim().split(/ +/).filter(Boolean)) {
    if (shell.test(token)) throw refuse(token, 'shell syntax is not allowed in flags');
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(token);
    if (!m) throw refuse(token, 'flags are --name or --name=value (no short forms, no separate values)');
    const [, name, value] = m as unknown as [string, string, string | undefined];
    if (FORBIDDEN_FLAGS.has(name)) throw refuse(token, `--${name} is never allowed (it can run commands, change the job's identity or environment, or move it)`);
    const kind = (KNOWN as Record<string, string>)[name];
    const limit = (limits as Record<string, Record<string, unknown> | undefined>)[name];
    if (!kind || !limit) throw refuse(token, `--${name} is not in this agent's allowlist (allowed: ${Object.keys(limits).map((k) => `--${k}`).join(', ') || 'none'})`);
    if (out.has(name)) throw refuse(token, `--${name} given twice`);
    if (kind === 'none') {
      if (value !== undefined) throw refuse(token, `--${name} takes no value`);
      out.set(name, `--${name}`);
      continue;
    }
    if (value === undefined || value === '') throw refuse(token, `--${name} needs a value: --${name}=VALUE`);
    if (!/^[A-Za-z0-9:._-]+$/.test(value)) throw refuse(token, 'values may contain only letters, digits, ":", ".", "_" and "-"');
    if (kind === 'size') {
      const mb = memMB(value);
      const max = memMB(String(limit.max));
      if (mb === null || !/^\d+[KMGT]?$/i.test(value)) throw refuse(token, 'memory is a number with an optional K, M, G or T unit');
      if (max !== null && mb > max) throw refuse(token, `--${name}=${value} is above this agent's limit ${limit.max}`);
    } else if (kind === 'time') {
      const s = timeSec(value);
      const max = timeSec(String(limit.max));
      if (s === null) throw refuse(token, 'time is MM, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]');
      if (max !== null && s > max) throw refuse(token, `--${name}=${value} is above this agent's limit ${limit.max}`);
    } else if (kind === 'count') {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw refuse(token, `--${name} takes a positive integer`);
      if (Number(value) > Number(limit.max)) throw refuse(token, `--${name}=${value} is above this agent's limit ${limit.max}`);
    } else if (kind === 'choice') {
      if (!(limit.allowed as string[]).includes(value)) throw refuse(token, `--${name}=${value} is not allowed (allowed: ${(limit.allowed as string[]).join(', ')})`);
    }
    out.set(name, `--${name}=${value}`);
  }
  return out;
}
