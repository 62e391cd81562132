/** The read-only pg ops: top-queries, explain, builds. */
import { z } from 'zod';
import { pgBuilds, pgExplain, pgTopQueries } from '../../proto/catalogue/pg-ops.js';
import { KuError } from '../../proto/errors.js';
import { OWN_STATEMENTS_EXCLUDED, pgError, pickDb, withDb } from '../postgres/db.js';
import { Prepared, queryById, readOnly, summarize } from '../postgres/plan.js';
import { implement } from './types.js';

export const topQueries = implement({
  spec: pgTopQueries,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    const db = pickDb(ctx.host, params.db);
    return withDb(db, 'top-queries', async (c) => {
      try {
        const r = await c.query(
          `SELECT queryid::text AS queryid, query, calls::float8 AS calls, total_exec_time AS total, mean_exec_time AS mean, rows::float8 AS rows,
                  shared_blks_hit::float8 AS hit, shared_blks_read::float8 AS read
             FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ${OWN_STATEMENTS_EXCLUDED} AND query NOT ILIKE 'EXPLAIN%' AND toplevel
            ORDER BY total_exec_time DESC LIMIT $1`,
          [params.limit],
        );
        return {
          db: db.name,
          queries: r.rows.map((x) => ({
            queryid: x.queryid as string,
            query: x.query as string,
            calls: x.calls as number,
            totalMs: Math.round((x.total as number) * 1000) / 1000,
            meanMs: Math.round((x.mean as number) * 1000) / 1000,
            rows: x.rows as number,
            sharedBlksHit: x.hit as number,
            sharedBlksRead: x.read as number,
          })),
        };
      } catch (e) {
        if ((e as { code?: string }).code === '42P01') throw new KuError('KU_ERR_PG_EXTENSION_MISSING', 'pg_stat_statements is not installed in this database');
        throw pgError(e, 'top-queries');
      }
    });
  },
});

export const explain = implement({
  spec: pgExplain,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    const db = pickDb(ctx.host, params.db);
    return withDb(db, 'explain', async (c) => {
      const query = params.query ?? (await queryById(c, params.queryid!));
      const plan = await readOnly(c, 10_000, async () => (await Prepared.create(c, query)).explain());
      return { db: db.name, query, summary: summarize(plan), plan };
    });
  },
});

export const builds = implement({
  spec: pgBuilds,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    const db = pickDb(ctx.host, params.db);
    return withDb(db, 'builds', async (c) => {
      try {
        const b = await c.query(
          `SELECT p.pid, p.relid::regclass::text AS table, nullif(p.index_relid, 0)::regclass::text AS index, p.phase,
                  p.blocks_done::float8 AS bd, p.blocks_total::float8 AS bt, p.tuples_done::float8 AS td, p.tuples_total::float8 AS tt
             FROM pg_stat_progress_create_index p WHERE p.datid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        const inv = await c.query(
          `SELECT i.indexrelid::regclass::text AS index, i.indrelid::regclass::text AS table
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
        );
        const bl = await c.query(
          `SELECT pid, pg_blocking_pids(pid) AS blocked_by, state, wait_event, left(query, 500) AS query
             FROM pg_stat_activity
            WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0`,
        );
        return {
          builds: b.rows.map((r) => ({ pid: r.pid, table: r.table, index: r.index, phase: r.phase, blocksDone: r.bd, blocksTotal: r.bt, tuplesDone: r.td, tuplesTotal: r.tt })),
          invalidIndexes: inv.rows.map((r) => ({ index: r.index, table: r.table })),
          blocked: bl.rows.map((r) => ({ pid: r.pid, blockedBy: r.blocked_by as number[], state: r.state ?? '', waitEvent: r.wait_event, query: r.query ?? '' })),
        };
      } catch (e) {
        throw pgError(e, 'builds');
      }
    });
  },
});
