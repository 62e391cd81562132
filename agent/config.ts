/**
 * The agent's config file: its allowlist. Only the operations listed under
 * `ops` exist on this host, each with its own limits; whatever the hub sends,
 * the agent refuses anything else. Parsed once in main, frozen, every error
 * reported at once with its path.
 *
 *   { "ops": { "diag.host": { "maxTop": 20 } }, "maxConcurrentOps": 8 }
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KuError } from '../proto/errors.js';
import type { OpImpl } from './ops/types.js';

const FileSchema = z
  .object({
    ops: z.record(z.string(), z.record(z.string(), z.unknown()).nullable().default({})).describe('allowlisted ops and their limits'),
    maxConcurrentOps: z.number().int().min(1).max(1024).default(16).describe('operations run at once; more are refused as busy'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    systemd: z
      .object({
        busAddress: z.string().regex(/^unix:path=\/[^;,\s]+$/).optional().describe('system bus address; default $DBUS_SYSTEM_BUS_ADDRESS or the standard socket'),
        journalDirectory: z.string().regex(/^\/[^\0]*$/).optional().describe('read the journal from this directory (journalctl -D), e.g. a host journal mounted into a container'),
      })
      .strict()
      .default({})
      .describe('how this host\'s systemd and journal are reached'),
  })
  .strict();

/** Host-level settings that operations may use. */
export interface HostSettings {
  readonly systemd: { readonly busAddress?: string; readonly journalDirectory?: string };
}

/** The parsed, checked agent config. */
export interface AgentConfig {
  /** op name → its parsed limits */
  readonly ops: ReadonlyMap<string, unknown>;
  readonly maxConcurrentOps: number;
  readonly logLevel: string;
  readonly host: HostSettings;
}

/** Parse a config document against the op table; all problems in one error. */
export function parseAgentConfig(raw: unknown, table: readonly OpImpl[], where = 'agent config'): AgentConfig {
  const r = FileSchema.safeParse(raw);
  const problems: string[] = [];
  if (!r.success) {
    for (const i of r.error.issues) problems.push(`${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new KuError('KU_ERR_CONFIG_INVALID', `${where}: ${problems.join('; ')}`);
  }
  const byName = new Map(table.map((i) => [i.spec.name, i] as const));
  const ops = new Map<string, unknown>();
  for (const [name, limits] of Object.entries(r.data.ops)) {
    const impl = byName.get(name);
    if (!impl) {
      problems.push(`ops.${name}: no such operation in this agent (known: ${[...byName.keys()].join(', ')})`);
      continue;
    }
    const lr = impl.limits.safeParse(limits ?? {});
    if (!lr.success) for (const i of lr.error.issues) problems.push(`ops.${name}.${i.path.join('.')}: ${i.message}`);
    else ops.set(name, Object.freeze(lr.data));
  }
  if (problems.length) throw new KuError('KU_ERR_CONFIG_INVALID', `${where}: ${problems.join('; ')}`);
  return Object.freeze({ ops, maxConcurrentOps: r.data.maxConcurrentOps, logLevel: r.data.logLevel, host: Object.freeze({ systemd: Object.freeze({ ...r.data.systemd }) }) });
}

/** Read and parse a config file. */
export function loadAgentConfig(path: string, table: readonly OpImpl[]): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KuError('KU_ERR_CONFIG_INVALID', `${path}: ${(e as Error).message}`);
  }
  return parseAgentConfig(raw, table, path);
}

/** The config used when none is given: every read-only op with default limits, nothing that mutates. */
export function defaultAgentConfig(table: readonly OpImpl[]): AgentConfig {
  const ops: Record<string, object> = {};
  for (const impl of table) if (!impl.spec.mutates) ops[impl.spec.name] = {};
  return parseAgentConfig({ ops }, table, 'default agent config');
}
