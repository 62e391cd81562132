/**
 * Plans of one user statement, safely: the text is only ever parsed by
 * PostgreSQL as the body of a PREPARE sent through the extended protocol
 * (which refuses more than one statement, and PREPARE refuses anything but
 * SELECT/INSERT/UPDATE/DELETE/MERGE/VALUES, so no EXPLAIN ANALYZE, no DDL), in
 * a READ ONLY transaction with a timeout; then EXPLAIN (no ANALYZE) of the
 * generic plan, which needs no parameter values.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { KuError } from '../../proto/errors.js';
import { pgError } from './db.js';

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Schema?: string;
  Alias?: string;
  'Index Name'?: string;
  'Total Cost': number;
  Filter?: string;
  'Index Cond'?: string;
  'Recheck Cond'?: string;
  'Hash Cond'?: string;
  'Merge Cond'?: string;
  'Join Filter'?: string;
  'Sort Key'?: string[];
  Plans?: PlanNode[];
}

export interface PlanSummary {
  totalCost: number;
  indexesUsed: string[];
  seqScans: string[];
}

/** Walk every node of a plan. */
export function* nodes(n: PlanNode): Generator<PlanNode> {
  yield n;
  for (const c of n.Plans ?? []) yield* nodes(c);
}

export function summarize(root: PlanNode): PlanSummary {
  const indexes = new Set<string>();
  const seq = new Set<string>();
  for (const n of nodes(root)) {
    if (n['Index Name']) indexes.add(n['Index Name']);
    if (n['Node Type'] === 'Seq Scan' && n['Relation Name']) seq.add(`${n.Schema ?? 'public'}.${n['Relation Name']}`);
  }
  return { totalCost: root['Total Cost'], indexesUsed: [...indexes], seqScans: [...seq] };
}

/**
 * A prepared statement of the user's query in the current session; call
 * `explain()` for its generic plan as often as needed, then `close()`.
 */
export class Prepared {
  private constructor(
    private readonly c: pg.Client,
    readonly name: string,
    readonly nParams: number,
  ) {}

  /** Validate and prepare. The caller must be inside a transaction it will roll back. */
  static async create(c: pg.Client, query: string): Promise<Prepared> {
    const text = query.trim().replace(/;\s*$/, '');
    if (/^\s*explain\b/i.test(text)) throw new KuError('KU_ERR_PG_QUERY_INVALID', 'give the statement itself, not EXPLAIN: ku never runs EXPLAIN ANALYZE');
    const name = `ku_q_${randomBytes(4).toString('hex')}`;
    try {
      // Extended protocol (a protocol-level name): PostgreSQL refuses more than one command here.
      await c.query({ name: `${name}_p`, text: `PREPARE ${name} AS ${text}` });
      const r = await c.query<{ n: number }>('SELECT coalesce(array_length(parameter_types, 1), 0) AS n FROM pg_prepared_statements WHERE name = $1', [name]);
      return new Prepared(c, name, Number(r.rows[0]?.n ?? 0));
    } catch (e) {
      const err = pgError(e, 'query');
      if (err.code === 'KU_ERR_PG_FAILED' && /multiple commands/.test(err.message)) throw new KuError('KU_ERR_PG_QUERY_INVALID', err.message, err.details);
      throw err;
    }
  }

  /**
   * EXPLAIN (FORMAT JSON) of the generic plan: no values needed, nothing executed. VERBOSE, because
   * only then does the plan name each scanned relation's schema (`Sales.Orders`, not a guess).
   */
  async explain(): Promise<PlanNode> {
    const args = this.nParams ? `(${Array.from({ length: this.nParams }, () => 'NULL').join(', ')})` : '';
    try {
      const r = await this.c.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON, VERBOSE true, COSTS true) EXECUTE ${this.name}${args}`);
      return r.rows[0]!['QUERY PLAN'][0].Plan;
    } catch (e) {
      throw pgError(e, 'explain');
    }
  }
}

/**
 * Run `fn` inside BEGIN READ ONLY with timeouts and the generic-plan setting,
 * always rolled back (prepared statements and hypothetical indexes vanish with it).
 */
export async function readOnly<T>(c: pg.Client, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN READ ONLY');
  try {
    await c.query(`SET LOCAL statement_timeout = ${Math.max(100, Math.floor(timeoutMs))}`);
    await c.query("SET LOCAL lock_timeout = '2s'");
    await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
    return await fn();
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.query('DEALLOCATE ALL').catch(() => undefined);
  }
}

/** Text of a query by its pg_stat_statements queryid. */
export async function queryById(c: pg.Client, queryid: string): Promise<string> {
  try {
    const r = await c.query<{ query: string }>('SELECT query FROM pg_stat_statements WHERE queryid = $1::bigint AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1', [queryid]);
    if (!r.rows[0]) throw new KuError('KU_ERR_PG_QUERY_INVALID', `no query with queryid ${queryid} in pg_stat_statements of this database`);
    return r.rows[0].query;
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') throw new KuError('KU_ERR_PG_EXTENSION_MISSING', 'pg_stat_statements is not installed in this database');
    throw pgError(e, 'pg_stat_statements');
  }
}
