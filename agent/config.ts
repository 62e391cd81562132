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
    postgres: z
      .object({
        databases: z
          .record(
            z.string().regex(/^[A-Za-z0-9_-]{1,63}$/),
            z
              .object({
                urlFile: z.string().regex(/^\/[^\0]*$/).optional().describe('file holding the connection URL (postgres://...); read at each connection'),
                urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional().describe('environment variable holding the connection URL'),
                tables: z
                  .array(z.string().regex(/^[A-Za-z0-9_$*]+\.[A-Za-z0-9_$*]+$/, 'SCHEMA.TABLE globs with *'))
                  .min(1)
                  .describe('tables ku may index, as SCHEMA.TABLE globs ("public.*"); system catalogs never qualify'),
                maxBuilds: z.number().int().min(1).max(16).default(1).describe('index builds at once in this database'),
              })
              .strict()
              .refine((d) => !!d.urlFile !== !!d.urlEnv, 'give exactly one of urlFile or urlEnv'),
          )
          .default({}),
      })
      .strict()
      .default({ databases: {} })
      .describe('databases the pg ops may use; connection secrets come from a file or the environment, never the config itself'),
    kubernetes: z
      .object({
        kubeconfig: z.string().regex(/^\/[^\0]*$/).optional().describe('kubeconfig file; without it, the in-cluster service account'),
        namespaces: z.array(z.string().regex(/^[a-z0-9*]([-a-z0-9.*]*[a-z0-9*])?$/)).min(1).describe('namespaces the k8s ops may read (globs with *)'),
      })
      .strict()
      .optional()
      .describe('how this agent reaches a Kubernetes API, and which namespaces it may read'),
  })
  .strict();

/** A database the pg ops may use. The URL is read on demand and never logged. */
export interface PgDatabase {
  readonly name: string;
  readonly url: () => string;
  readonly tables: readonly string[];
  readonly maxBuilds: number;
}

/** Host-level settings that operations may use. */
export interface HostSettings {
  readonly systemd: { readonly busAddress?: string; readonly journalDirectory?: string };
  readonly postgres: ReadonlyMap<string, PgDatabase>;
  readonly kubernetes: { readonly kubeconfig?: string; readonly namespaces: readonly string[] } | null;
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
export function parseAgentConfig(raw: unknown, table: readonly OpImpl[], where = 'agent config', env: Readonly<Record<string, string | undefined>> = {}): AgentConfig {
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
  const postgres = new Map<string, PgDatabase>();
  for (const [name, d] of Object.entries(r.data.postgres.databases)) {
    let url: () => string;
    if (d.urlEnv) {
      const value = env[d.urlEnv];
      if (!value) problems.push(`postgres.databases.${name}.urlEnv: ${d.urlEnv} is not set in the agent's environment`);
      url = () => value ?? '';
    } else {
      const file = d.urlFile!;
      url = () => readFileSync(file, 'utf8').trim();
    }
    postgres.set(name, Object.freeze({ name, url, tables: Object.freeze([...d.tables]), maxBuilds: d.maxBuilds }));
  }
  if (problems.length) throw new KuError('KU_ERR_CONFIG_INVALID', `${where}: ${problems.join('; ')}`);
  return Object.freeze({
    ops,
    maxConcurrentOps: r.data.maxConcurrentOps,
    logLevel: r.data.logLevel,
    host: Object.freeze({ systemd: Object.freeze({ ...r.data.systemd }), postgres, kubernetes: r.data.kubernetes ? Object.freeze({ ...r.data.kubernetes }) : null }),
  });
}

/** Read and parse a config file. */
export function loadAgentConfig(path: string, table: readonly OpImpl[], env: Readonly<Record<string, string | undefined>> = {}): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KuError('KU_ERR_CONFIG_INVALID', `${path}: ${(e as Error).message}`);
  }
  return parseAgentConfig(raw, table, path, env);
}

/** The config used when none is given: every read-only op with default limits, nothing that mutates. */
export function defaultAgentConfig(table: readonly OpImpl[]): AgentConfig {
  const ops: Record<string, object> = {};
  for (const impl of table) if (!impl.spec.mutates) ops[impl.spec.name] = {};
  return parseAgentConfig({ ops }, table, 'default agent config');
}
