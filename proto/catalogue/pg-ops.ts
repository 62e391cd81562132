/**
 * The ku-pg operation family: a safe, concurrent index lifecycle and the
 * read-only checks around it (top queries, explain, advice, verification,
 * builds). One spec per op.
 */
import { z } from 'zod';
import { defineOp } from '../op-spec.js';
import { pgDb, pgIdent, pgQuery, pgQueryId, pgTableName, planSummary } from './pg-common.js';

const db = pgDb.optional().describe('database, by its name in the agent config; optional when the agent has one');

const queryRef = {
  query: pgQuery.optional().describe('the query, as SQL'),
  queryid: pgQueryId.optional().describe('the query, by its pg_stat_statements queryid'),
};
/** Ops that need their query one way or the other: `.refine(exactlyOneQuery, EXACTLY_ONE_QUERY)`. */
const exactlyOneQuery = (p: { query?: string | undefined; queryid?: string | undefined }): boolean => !!p.query !== !!p.queryid;
const EXACTLY_ONE_QUERY = { message: 'give exactly one of --query or --queryid', path: ['query'] };

const index = pgTableName.describe('index, as NAME or SCHEMA.NAME');

/** `ku-pg top-queries [--limit N]` */
export const pgTopQueries = defineOp({
  name: 'pg.top-queries',
  summary: 'the queries that cost the database most, from pg_stat_statements',
  mutates: false,
  risk: 'none',
  timeoutMs: 30_000,
  params: z.object({ db, limit: z.number().int().min(1).max(100).default(10).describe('how many queries') }).strict(),
  result: z.object({
    db: z.string(),
    queries: z.array(
      z.object({
        queryid: z.string(),
        query: z.string().describe('normalized text'),
        calls: z.number(),
        totalMs: z.number(),
        meanMs: z.number(),
        rows: z.number(),
        sharedBlksHit: z.number(),
        sharedBlksRead: z.number(),
      }),
    ),
  }),
  errors: ['KU_ERR_PG_DB_NOT_ALLOWED', 'KU_ERR_PG_UNAVAILABLE', 'KU_ERR_PG_EXTENSION_MISSING'],
  cli: { bin: 'ku-pg', command: 'top-queries' },
});

/** `ku-pg explain (--query SQL | --queryid ID)` */
export const pgExplain = defineOp({
  name: 'pg.explain',
  summary: 'the plan of one statement (never ANALYZE), as JSON with a summary',
  mutates: false,
  risk: 'none',
  timeoutMs: 30_000,
  params: z
    .object({ db, ...queryRef })
    .strict()
    .refine(exactlyOneQuery, EXACTLY_ONE_QUERY),
  result: z.object({ db: z.string(), query: z.string(), summary: planSummary, plan: z.unknown().describe('EXPLAIN (FORMAT JSON) output') }),
  errors: ['KU_ERR_PG_QUERY_INVALID', 'KU_ERR_PG_DB_NOT_ALLOWED', 'KU_ERR_PG_UNAVAILABLE'],
  cli: { bin: 'ku-pg', command: 'explain' },
});

/** `ku-pg apply-index --table users --column email` */
export const pgApplyIndex = defineOp({
  name: 'pg.apply-index',
  summary: 'build a btree index with CREATE INDEX CONCURRENTLY, safely',
  mutates: true,
  risk: 'medium',
  timeoutMs: 3_600_000,
  params: z
    .object({
      db,
      table: pgTableName,
      column: z.array(pgIdent).min(1).max(8).describe('indexed columns, in order (repeat the flag)'),
      unique: z.boolean().default(false).describe('a UNIQUE index (only where the agent config allows it)'),
      dryRun: z.boolean().default(false).describe('check everything and report the DDL without building'),
      ...queryRef,
    })
    .strict()
    .refine((p) => !(p.query && p.queryid), { message: 'give at most one of --query or --queryid', path: ['query'] }),
  result: z.object({
    db: z.string(),
    table: z.string().describe('schema.table'),
    index: z.string().describe('index name'),
    columns: z.array(z.string()),
    status: z.enum(['created', 'rebuilt', 'exists', 'dry-run']).describe('exists: an equivalent valid index is already there (see existing)'),
    existing: z.string().nullable().describe('the equivalent index that made this a no-op'),
    ddl: z.string().describe('the statement ku ran (or would run)'),
    sizeBytes: z.number().nullable(),
    baselineCost: z.number().nullable().describe('plan cost of --query/--queryid before the build, for verify-index'),
    durationMs: z.number(),
  }),
  errors: [
    'KU_ERR_PG_TABLE_NOT_FOUND', 'KU_ERR_PG_COLUMN_NOT_FOUND', 'KU_ERR_PG_TABLE_NOT_ALLOWED', 'KU_ERR_PG_LOCK_TIMEOUT', 'KU_ERR_PG_DUPLICATE_KEYS',
    'KU_ERR_PG_BUILD_IN_PROGRESS', 'KU_ERR_PG_BUILD_LIMIT', 'KU_ERR_PG_QUERY_INVALID', 'KU_ERR_PG_FAILED', 'KU_ERR_LIMIT_EXCEEDED',
  ],
  cli: { bin: 'ku-pg', command: 'apply-index', flagAliases: { 'for-query': 'query' } },
});

/** `ku-pg drop-index --index NAME` */
export const pgDropIndex = defineOp({
  name: 'pg.drop-index',
  summary: 'drop an index ku made, with DROP INDEX CONCURRENTLY',
  mutates: true,
  risk: 'medium',
  timeoutMs: 600_000,
  params: z.object({ db, index, dryRun: z.boolean().default(false).describe('check only') }).strict(),
  result: z.object({ db: z.string(), index: z.string(), table: z.string(), dropped: z.boolean(), ddl: z.string() }),
  errors: ['KU_ERR_PG_INDEX_NOT_FOUND', 'KU_ERR_PG_INDEX_NOT_OURS', 'KU_ERR_PG_INDEX_BACKS_CONSTRAINT', 'KU_ERR_PG_TABLE_NOT_ALLOWED', 'KU_ERR_PG_LOCK_TIMEOUT'],
  destructive: true,
  cli: { bin: 'ku-pg', command: 'drop-index' },
});

/** `ku-pg verify-index --index NAME (--query SQL | --queryid ID)` */
export const pgVerifyIndex = defineOp({
  name: 'pg.verify-index',
  summary: 'the reviewer\'s check of a new index: valid, used, cheaper, nothing stuck; SHIP or REVISE',
  mutates: false,
  risk: 'none',
  timeoutMs: 60_000,
  params: z
    .object({
      db,
      index,
      ...queryRef,
      baselineCost: z.number().positive().optional().describe('plan cost before the index; default: the one recorded by apply-index'),
    })
    .strict()
    .refine(exactlyOneQuery, EXACTLY_ONE_QUERY),
  result: z.object({
    verdict: z.enum(['SHIP', 'REVISE']),
    reasons: z.array(z.string()).describe('why not SHIP (empty when SHIP)'),
    checks: z.object({
      valid: z.boolean(),
      ready: z.boolean(),
      used: z.boolean(),
      baselineCost: z.number().nullable(),
      cost: z.number(),
      savingsPct: z.number().nullable(),
      runningBuilds: z.number(),
      invalidIndexes: z.array(z.string()),
      idleInTransaction: z.number(),
    }),
    summary: planSummary,
  }),
  errors: ['KU_ERR_PG_INDEX_NOT_FOUND', 'KU_ERR_PG_QUERY_INVALID'],
  cli: { bin: 'ku-pg', command: 'verify-index' },
});

/** `ku-pg advise [--query SQL ...] [--top N]` */
export const pgAdvise = defineOp({
  name: 'pg.advise',
  summary: 'recommend at most one index per query, proven with hypothetical indexes (hypopg)',
  mutates: false,
  risk: 'none',
  timeoutMs: 120_000,
  params: z
    .object({
      db,
      query: z.array(pgQuery).max(50).optional().describe('queries to advise on (repeat the flag)'),
      top: z.number().int().min(1).max(50).optional().describe('advise on the top N queries of pg_stat_statements'),
    })
    .strict(),
  result: z.object({
    recommendations: z.array(
      z.object({
        table: z.string().describe('schema.table'),
        columns: z.array(z.string()),
        costBefore: z.number(),
        costAfter: z.number(),
        savingsPct: z.number(),
        queries: z.array(z.string()),
      }),
    ),
    skipped: z.array(z.object({ query: z.string(), reason: z.string(), code: z.string() })),
  }),
  errors: ['KU_ERR_PG_EXTENSION_MISSING', 'KU_ERR_PG_DB_NOT_ALLOWED'],
  cli: { bin: 'ku-pg', command: 'advise' },
});

/** `ku-pg builds` */
export const pgBuilds = defineOp({
  name: 'pg.builds',
  summary: 'running index builds, INVALID indexes, and blocked or blocking sessions',
  mutates: false,
  risk: 'none',
  timeoutMs: 30_000,
  params: z.object({ db }).strict(),
  result: z.object({
    builds: z.array(z.object({ pid: z.number(), table: z.string(), index: z.string().nullable(), phase: z.string(), blocksDone: z.number(), blocksTotal: z.number(), tuplesDone: z.number(), tuplesTotal: z.number() })),
    invalidIndexes: z.array(z.object({ index: z.string(), table: z.string() })),
    blocked: z.array(z.object({ pid: z.number(), blockedBy: z.array(z.number()), state: z.string(), waitEvent: z.string().nullable(), query: z.string() })),
  }),
  errors: ['KU_ERR_PG_DB_NOT_ALLOWED', 'KU_ERR_PG_UNAVAILABLE'],
  cli: { bin: 'ku-pg', command: 'builds' },
});
