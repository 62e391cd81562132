/**
 * pg.apply-index: always CREATE INDEX CONCURRENTLY, one build per table (an
 * advisory lock), a per-database build limit (advisory lock slots), timeouts
 * from the agent config, progress streamed from pg_stat_progress_create_index,
 * and on any failure the INVALID index it left is dropped before the typed
 * error is returned.
 */
import type pg from 'pg';
import { z } from 'zod';
import { pgApplyIndex } from '../../proto/catalogue/pg-ops.js';
import { KuError } from '../../proto/errors.js';
import { connect, findTable, indexName, pgError, pickDb, quoteIdent, quoteLiteral, tableColumns, type Provenance } from '../postgres/db.js';
import { Prepared, queryById, readOnly } from '../postgres/plan.js';
import { implement } from './types.js';

/** Advisory lock classes (first key of the two-key form). */
const LOCK_TABLE = 0x6b750001; // one ku build per table: second key = table oid
const LOCK_SLOT = 0x6b750002; // per-database build slots: second key = slot number

const limits = z
  .object({
    lockTimeoutMs: z.number().int().min(100).max(600_000).default(5000).describe('lock_timeout of the build: how long it may wait for locks'),
    statementTimeoutMs: z.number().int().min(1000).max(86_400_000).default(3_600_000).describe('statement_timeout of the build'),
    allowUnique: z.boolean().default(false).describe('whether UNIQUE indexes may be built'),
    cleanupTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000).describe('how long to keep trying to drop an INVALID index a failed build left'),
    progressIntervalMs: z.number().int().min(100).max(60_000).default(500),
  })
  .strict();

/**
 * Drop an INVALID index left by a failed build, retrying while something still blocks it. True
 * when no INVALID index of that name remains. A valid index of the name is never dropped: it is
 * not a leftover (another build finished it between this one's checks and its CREATE).
 */
export async function dropLeftover(c: pg.Client, indexSql: string, untilMs: number): Promise<boolean> {
  for (;;) {
    try {
      const r = await c.query<{ valid: boolean }>('SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass($1)', [indexSql]);
      if (!r.rows[0] || r.rows[0].valid) return true;
      await c.query("SET lock_timeout = '2s'");
      await c.query(`DROP INDEX CONCURRENTLY IF EXISTS ${indexSql}`);
      return true;
    } catch (e) {
      if (Date.now() > untilMs) return false;
      if ((e as { code?: string }).code !== '55P03') await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function equivalentIndex(c: pg.Client, tableOid: number, columns: string[], unique: boolean): Promise<string | null> {
  const r = await c.query<{ name: string }>(
    `SELECT i.indexrelid::regclass::text AS name
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = $1 AND i.indisvalid AND i.indexprs IS NULL AND i.indpred IS NULL AND am.amname = 'btree'
        AND ($3::bool = false OR i.indisunique)
        AND (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = $2::name[]
      LIMIT 1`,
    [tableOid, columns, unique],
  );
  return r.rows[0]?.name ?? null;
}

export default implement({
  spec: pgApplyIndex,
  limits,
  check(params, l) {
    if (params.unique && !l.allowUnique) throw new KuError('KU_ERR_LIMIT_EXCEEDED', 'this agent does not allow UNIQUE indexes (allowUnique in its config)');
    if (new Set(params.column).size !== params.column.length) throw new KuError('KU_ERR_INVALID_PARAMS', 'a column is named twice');
  },
  async run(params, ctx) {
    const started = Date.now();
    const l = ctx.limits;
    const db = pickDb(ctx.host, params.db);
    const main = await connect(db, 'apply-index');
    let mon: pg.Client | null = null;
    try {
      const t = await findTable(main, db, params.table);
      const cols = await tableColumns(main, t.oid);
      const missing = params.column.filter((x) => !cols.includes(x));
      if (missing.length) throw new KuError('KU_ERR_PG_COLUMN_NOT_FOUND', `no column ${missing.join(', ')} in ${t.schema}.${t.table}`, { missing, columns: cols });
      const name = indexName(t.table, params.column, params.unique);
      const indexSql = `${quoteIdent(t.schema)}.${quoteIdent(name)}`;
      const ddl = `CREATE ${params.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${quoteIdent(name)} ON ${t.sql} USING btree (${params.column.map(quoteIdent).join(', ')})`;
      const base = { db: db.name, table: `${t.schema}.${t.table}`, index: name, columns: params.column, ddl, sizeBytes: null as number | null };

      const existing = await equivalentIndex(main, t.oid, params.column, params.unique);
      if (existing) return { ...base, status: 'exists' as const, existing, baselineCost: null, durationMs: Date.now() - started };

      let baselineCost: number | null = null;
      let query: string | null = null;
      if (params.query || params.queryid) {
        query = params.query ?? (await queryById(main, params.queryid!));
        baselineCost = (await readOnly(main, 10_000, async () => (await Prepared.create(main, query!)).explain()))['Total Cost'];
      }
      const same = await main.query<{ indisvalid: boolean; indrelid: number }>(
        `SELECT x.indisvalid, x.indrelid::int AS indrelid FROM pg_class i JOIN pg_index x ON x.indexrelid = i.oid JOIN pg_namespace n ON n.oid = i.relnamespace
          WHERE i.relname = $1 AND n.nspname = $2`,
        [name, t.schema],
      );
      const leftover = same.rows[0];
      if (leftover && (leftover.indisvalid || leftover.indrelid !== t.oid)) {
        throw new KuError('KU_ERR_PG_FAILED', `an index named ${name} already exists in ${t.schema} and is not an equivalent valid index on ${t.table}`);
      }
      if (params.dryRun) return { ...base, status: 'dry-run' as const, existing: null, baselineCost, durationMs: Date.now() - started };

      // One ku build per table, and at most maxBuilds per database, across all agents.
      const lock = await main.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, ($2::bigint % 2147483647)::int) AS ok', [LOCK_TABLE, t.oid]);
      if (!lock.rows[0]?.ok) throw new KuError('KU_ERR_PG_BUILD_IN_PROGRESS', `another ku build runs on ${t.schema}.${t.table}`);
      let slot = -1;
      for (let i = 0; i < db.maxBuilds && slot < 0; i++) {
        if ((await main.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_SLOT, i])).rows[0]?.ok) slot = i;
      }
      if (slot < 0) throw new KuError('KU_ERR_PG_BUILD_LIMIT', `database ${db.name} already runs ${db.maxBuilds} ku index build(s)`);

      let status: 'created' | 'rebuilt' = 'created';
      if (leftover) {
        // An INVALID index of this name from an earlier failure: drop it, then build again.
        if (!(await dropLeftover(main, indexSql, Date.now() + l.cleanupTimeoutMs))) throw new KuError('KU_ERR_PG_LOCK_TIMEOUT', `could not drop the INVALID leftover ${name}; something holds the table`);
        status = 'rebuilt';
      }
      await main.query(`SET lock_timeout = ${l.lockTimeoutMs}`);
      await main.query(`SET statement_timeout = ${l.statementTimeoutMs}`);
      const pid = (await main.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      mon = await connect(db, 'apply-index monitor');
      const monitor = mon;
      // One query at a time on the monitor session: progress polls, the cancel and the cleanup take turns.
      let turn: Promise<unknown> = Promise.resolve();
      const onMonitor = <T>(f: () => Promise<T>): Promise<T> => {
        const p = turn.then(f, f);
        turn = p.catch(() => undefined);
        return p;
      };
      const onAbort = (): void => void onMonitor(() => monitor.query('SELECT pg_cancel_backend($1)', [pid])).catch(() => undefined);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let polling = false;
      const poll = setInterval(() => {
        if (polling) return;
        polling = true;
        onMonitor(() => monitor.query('SELECT phase, blocks_done::float8 AS bd, blocks_total::float8 AS bt, tuples_done::float8 AS td, tuples_total::float8 AS tt FROM pg_stat_progress_create_index WHERE pid = $1', [pid]))
          .then((r) => {
            const p = r.rows[0];
            if (p) ctx.progress({ index: name, phase: p.phase, blocksDone: p.bd, blocksTotal: p.bt, tuplesDone: p.td, tuplesTotal: p.tt });
          })
          .catch(() => undefined)
          .finally(() => (polling = false));
      }, l.progressIntervalMs);
      try {
        await main.query(ddl);
      } catch (e) {
        const err = ctx.signal.aborted ? new KuError('KU_ERR_CANCELLED', 'the build was cancelled') : pgError(e, `building ${name}`);
        await main.query('RESET statement_timeout').catch(() => undefined);
        clearInterval(poll);
        const cleaned = await onMonitor(() => dropLeftover(monitor, indexSql, Date.now() + l.cleanupTimeoutMs));
        const details = { ...(typeof err.details === 'object' && err.details ? err.details : {}), index: name, leftoverDropped: cleaned };
        throw new KuError(err.code, `${err.message}${cleaned ? '; the INVALID index it left was dropped' : `; the INVALID index ${name} could not be dropped yet (a rerun drops it)`}`, details);
      } finally {
        clearInterval(poll);
        ctx.signal.removeEventListener('abort', onAbort);
      }
      const prov: Provenance = { by: 'ku', at: new Date().toISOString(), principal: ctx.principal, auditId: ctx.auditId, baselineCost, query };
      await main.query('RESET lock_timeout');
      await main.query(`COMMENT ON INDEX ${indexSql} IS ${quoteLiteral(JSON.stringify(prov))}`);
      const size = await main.query<{ s: string }>('SELECT pg_relation_size($1::regclass)::text AS s', [indexSql]);
      return { ...base, status, existing: null, baselineCost, sizeBytes: Number(size.rows[0]?.s ?? 0), durationMs: Date.now() - started };
    } catch (e) {
      throw pgError(e, 'apply-index');
    } finally {
      // Closing the session releases its advisory locks.
      await main.end().catch(() => undefined);
      await mon?.end().catch(() => undefined);
    }
  },
});
