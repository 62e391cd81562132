/**
 * Connections, identifiers, catalog lookups and error mapping for the pg ops.
 * Every identifier sent to PostgreSQL is looked up in the catalog by value
 * (bind parameters) and then quoted; user text is never spliced into SQL.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { KuError } from '../../proto/errors.js';
import { globRegExp } from '../../runtime/glob.js';
import type { HostSettings, PgDatabase } from '../config.js';

/** A PostgreSQL identifier, quoted. */
export function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** A string literal, quoted (for COMMENT, which takes no bind parameters). */
export function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The database a call means: the named one, or the only one configured. */
export function pickDb(host: HostSettings, name?: string): PgDatabase {
  if (name) {
    const d = host.postgres.get(name);
    if (!d) throw new KuError('KU_ERR_PG_DB_NOT_ALLOWED', `database ${JSON.stringify(name)} is not configured on this agent`, { configured: [...host.postgres.keys()] });
    return d;
  }
  if (host.postgres.size === 1) return [...host.postgres.values()][0]!;
  throw new KuError('KU_ERR_PG_DB_NOT_ALLOWED', host.postgres.size ? `this agent has ${host.postgres.size} databases; choose one with --db (${[...host.postgres.keys()].join(', ')})` : 'this agent has no databases configured');
}

/** Map a PostgreSQL error to a ku error by SQLSTATE. */
export function pgError(e: unknown, what: string): KuError {
  if (e instanceof KuError) return e;
  const err = e as { code?: string; message?: string };
  const details = { sqlstate: err.code ?? null };
  switch (err.code) {
    case '55P03':
      return new KuError('KU_ERR_PG_LOCK_TIMEOUT', `${what}: ${err.message}`, details);
    case '23505':
      return new KuError('KU_ERR_PG_DUPLICATE_KEYS', `${what}: ${err.message}`, details);
    case '57014':
      return new KuError('KU_ERR_TIMEOUT', `${what}: ${err.message}`, details);
    case '42601':
    case '0A000':
    case '42P01':
    case '42703':
    case '42883':
    case '42804':
    case '42P02':
    case '42P18':
      return new KuError('KU_ERR_PG_QUERY_INVALID', `${what}: ${err.message}`, details);
    case '3D000':
    case '28P01':
    case '28000':
    case '57P03':
      return new KuError('KU_ERR_PG_UNAVAILABLE', `${what}: ${err.message}`, details);
  }
  if (!err.code && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ENOENT|connect/i.test(err.message ?? '')) return new KuError('KU_ERR_PG_UNAVAILABLE', `${what}: ${err.message}`);
  return new KuError('KU_ERR_PG_FAILED', `${what}: ${err.message ?? String(e)}`, details);
}

/**
 * Every statement ku sends starts with this comment. pg_stat_statements keeps a leading comment in
 * the text it records, so ku's own catalog reads, EXPLAINs and DDL can be told from the workload
 * (OWN_STATEMENTS_EXCLUDED), even when the agent connects as the same role as the application.
 */
export const KU_SQL_MARK = '/* ku */ ';

/** A WHERE condition on pg_stat_statements that leaves out what ku itself ran. */
export const OWN_STATEMENTS_EXCLUDED = `query NOT LIKE '${KU_SQL_MARK.trim()}%'`;

/** Make `client.query` put KU_SQL_MARK before the text of every statement. */
function markStatements(client: pg.Client): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const mark = (q: unknown): unknown => {
    if (typeof q === 'string') return KU_SQL_MARK + q;
    // A config object ({text, values, name}); submittables (cursors) are left alone.
    if (q && typeof q === 'object' && typeof (q as { text?: unknown }).text === 'string' && typeof (q as { submit?: unknown }).submit !== 'function') {
      return { ...q, text: KU_SQL_MARK + (q as { text: string }).text };
    }
    return q;
  };
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (q: unknown, ...rest: unknown[]) => query(mark(q), ...rest);
}

/** Open a connection named for ku (visible in pg_stat_activity), its statements marked as ku's. */
export async function connect(db: PgDatabase, purpose: string): Promise<pg.Client> {
  let url: string;
  try {
    url = db.url();
  } catch (e) {
    throw new KuError('KU_ERR_PG_UNAVAILABLE', `cannot read the connection secret of ${db.name}: ${(e as Error).message}`);
  }
  const client = new pg.Client({ connectionString: url, application_name: `ku-agent ${purpose}`.slice(0, 63), connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a dropped connection surfaces on the next query
  markStatements(client);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw pgError(e, `connect to ${db.name}`);
  }
  return client;
}

/** Run `fn` with a connection that is always closed afterwards. */
export async function withDb<T>(db: PgDatabase, purpose: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(db, purpose);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Whether a schema.table is in the allowlist globs. */
export function tableAllowed(db: PgDatabase, schema: string, table: string): boolean {
  const full = `${schema}.${table}`;
  return db.tables.some((g) => globRegExp(g).test(full));
}

const SYSTEM_SCHEMA = /^(pg_catalog|information_schema|pg_toast|pg_temp_\d+|pg_toast_temp_\d+)$/;

export interface TableRef {
  oid: number;
  schema: string;
  table: string;
  /** "schema"."table", quoted */
  sql: string;
}

/** Find a table by NAME or SCHEMA.NAME (exact case) and check the allowlist. */
export async function findTable(c: pg.Client, db: PgDatabase, name: string): Promise<TableRef> {
  const [schema, table] = name.includes('.') ? (name.split('.') as [string, string]) : [null, name];
  const r = await c.query<{ oid: number; nspname: string; relname: string }>(
    `SELECT c.oid::int AS oid, n.nspname, c.relname
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $1 AND c.relkind IN ('r', 'p', 'm')
        AND (n.nspname = $2 OR ($2 IS NULL AND n.nspname = ANY (current_schemas(true))))
      ORDER BY array_position(current_schemas(true), n.nspname) NULLS LAST
      LIMIT 1`,
    [table, schema],
  );
  const row = r.rows[0];
  if (!row) throw new KuError('KU_ERR_PG_TABLE_NOT_FOUND', `no table ${name} in database ${db.name}`, { table: name });
  if (SYSTEM_SCHEMA.test(row.nspname) || !tableAllowed(db, row.nspname, row.relname)) {
    throw new KuError('KU_ERR_PG_TABLE_NOT_ALLOWED', `${row.nspname}.${row.relname} is not in this agent's table allowlist for ${db.name}`, { table: `${row.nspname}.${row.relname}` });
  }
  return { oid: row.oid, schema: row.nspname, table: row.relname, sql: `${quoteIdent(row.nspname)}.${quoteIdent(row.relname)}` };
}

/** Columns of a table (not dropped, not system). */
export async function tableColumns(c: pg.Client, oid: number): Promise<string[]> {
  const r = await c.query<{ attname: string }>('SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum', [oid]);
  return r.rows.map((x) => x.attname);
}

/** Deterministic index name within 63 bytes: ku_TABLE_COLS_idx, or a prefix plus a hash. */
export function indexName(table: string, columns: string[], unique = false): string {
  const base = `ku_${table}_${columns.join('_')}_${unique ? 'key' : 'idx'}`;
  if (Buffer.byteLength(base) <= 63) return base;
  const hash = createHash('sha256').update(`${table}\0${columns.join('\0')}\0${unique}`).digest('hex').slice(0, 8);
  return `${base.slice(0, 63 - 9)}_${hash}`;
}

/** Provenance stored as the index's comment. */
export interface Provenance {
  by: 'ku';
  at: string;
  principal: string;
  auditId: string;
  baselineCost: number | null;
  query: string | null;
}

export function parseProvenance(comment: string | null): Provenance | null {
  if (!comment) return null;
  try {
    const p = JSON.parse(comment) as Provenance;
    return p.by === 'ku' ? p : null;
  } catch {
    return null;
  }
}

/** An index by NAME or SCHEMA.NAME, with its table, validity, comment and constraint use. */
export async function findIndex(c: pg.Client, db: PgDatabase, name: string) {
  const [schema, index] = name.includes('.') ? (name.split('.') as [string, string]) : [null, name];
  const r = await c.query<{ oid: number; nspname: string; relname: string; tschema: string; tname: string; toid: number; indisvalid: boolean; indisready: boolean; comment: string | null; constraint: string | null }>(
    `SELECT i.oid::int AS oid, n.nspname, i.relname, tn.nspname AS tschema, t.relname AS tname, t.oid::int AS toid,
            x.indisvalid, x.indisready, obj_description(i.oid, 'pg_class') AS comment,
            (SELECT conname FROM pg_constraint WHERE conindid = i.oid LIMIT 1) AS constraint
       FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace
       JOIN pg_index x ON x.indexrelid = i.oid
       JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
      WHERE i.relname = $1 AND i.relkind IN ('i', 'I')
        AND (n.nspname = $2 OR ($2 IS NULL AND n.nspname = ANY (current_schemas(true))))
      ORDER BY array_position(current_schemas(true), n.nspname) NULLS LAST LIMIT 1`,
    [index, schema],
  );
  const row = r.rows[0];
  if (!row) throw new KuError('KU_ERR_PG_INDEX_NOT_FOUND', `no index ${name} in database ${db.name}`, { index: name });
  if (SYSTEM_SCHEMA.test(row.tschema) || !tableAllowed(db, row.tschema, row.tname)) {
    throw new KuError('KU_ERR_PG_TABLE_NOT_ALLOWED', `index ${name} is on ${row.tschema}.${row.tname}, outside this agent's table allowlist`);
  }
  return { ...row, sql: `${quoteIdent(row.nspname)}.${quoteIdent(row.relname)}`, table: `${row.tschema}.${row.tname}` };
}
