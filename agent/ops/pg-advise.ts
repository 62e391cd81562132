/**
 * pg.advise: at most one new btree index per query, proven with hypothetical
 * indexes (hypopg) on the query's generic plan. Candidates are single columns
 * and ordered pairs of the columns each scanned table is filtered, joined or
 * sorted on; candidates an existing valid index already covers are skipped.
 * Everything happens in a READ ONLY transaction that is rolled back: nothing
 * real is created.
 */
import type pg from 'pg';
import { z } from 'zod';
import { pgAdvise } from '../../proto/catalogue/pg-ops.js';
import { KuError } from '../../proto/errors.js';
import { findTable, OWN_STATEMENTS_EXCLUDED, pgError, pickDb, quoteIdent, tableColumns, withDb, type TableRef } from '../postgres/db.js';
import { nodes, Prepared, readOnly, type PlanNode } from '../postgres/plan.js';
import { implement } from './types.js';

const limits = z
  .object({
    minCost: z.number().min(0).default(1000).describe('queries cheaper than this (planner cost) get no advice'),
    minSavingPct: z.number().min(0).max(100).default(30).describe('a recommendation must cut the cost by at least this share'),
    maxCandidates: z.number().int().min(1).max(200).default(40).describe('hypothetical indexes tried per query'),
  })
  .strict();

/** Identifiers in a plan condition (string literals removed; quoted names unquoted). */
export function identifiers(cond: string): string[] {
  const out: string[] = [];
  const text = cond.replace(/'(?:[^']|'')*'/g, ' ');
  for (const m of text.matchAll(/"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)/g)) out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  return out;
}

const CONDS = ['Filter', 'Index Cond', 'Recheck Cond', 'Hash Cond', 'Merge Cond', 'Join Filter'] as const;

/** Per scanned relation: the columns mentioned by its own conditions, in order of appearance. */
export function mentionedColumns(root: PlanNode): Map<string, string[]> {
  const rels = new Map<string, string[]>();
  const sortKeys: string[] = [];
  const joinConds: string[] = [];
  for (const n of nodes(root)) {
    if (n['Sort Key']) sortKeys.push(...n['Sort Key']);
    if (n['Relation Name']) {
      const key = `${n.Schema ?? ''}.${n['Relation Name']}`;
      const list = rels.get(key) ?? [];
      for (const c of CONDS) if (n[c]) list.push(...identifiers(n[c]!));
      rels.set(key, list);
    } else {
      for (const c of ['Hash Cond', 'Merge Cond', 'Join Filter'] as const) if (n[c]) joinConds.push(n[c]!);
    }
  }
  // Join conditions and sort keys name columns of several tables: offer them to each (filtered by its columns later).
  for (const [key, list] of rels) {
    for (const j of joinConds) list.push(...identifiers(j));
    for (const s of sortKeys) list.push(...identifiers(s));
    rels.set(key, list);
  }
  return rels;
}

interface Candidate {
  table: string;
  columns: string[];
  cost: number;
}

async function existingLeadingColumns(c: pg.Client, oid: number): Promise<string[][]> {
  const r = await c.query<{ cols: string[] }>(
    `SELECT (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS cols
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
      WHERE i.indrelid = $1 AND i.indisvalid AND i.indpred IS NULL AND am.amname = 'btree'`,
    [oid],
  );
  return r.rows.map((x) => x.cols ?? []);
}

const covered = (cand: string[], existing: string[][]): boolean => existing.some((e) => cand.every((c, i) => e[i] === c));

export default implement({
  spec: pgAdvise,
  limits,
  async run(params, ctx) {
    const l = ctx.limits;
    const db = pickDb(ctx.host, params.db);
    return withDb(db, 'advise', async (c) => {
      const ext = await c.query("SELECT extname FROM pg_extension WHERE extname IN ('hypopg', 'pg_stat_statements')");
      const have = new Set(ext.rows.map((r) => r.extname as string));
      if (!have.has('hypopg')) throw new KuError('KU_ERR_PG_EXTENSION_MISSING', 'hypopg is not installed in this database (CREATE EXTENSION hypopg)');
      let queries = params.query ?? [];
      if (!params.query) {
        if (!have.has('pg_stat_statements')) throw new KuError('KU_ERR_PG_EXTENSION_MISSING', 'pg_stat_statements is not installed in this database');
        const r = await c.query<{ query: string }>(
          `SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel
              AND ${OWN_STATEMENTS_EXCLUDED} AND query NOT ILIKE 'EXPLAIN%'
              AND query ~* '^\\s*(select|with|update|delete)' ORDER BY total_exec_time DESC LIMIT $1`,
          [params.top ?? 5],
        );
        queries = r.rows.map((x) => x.query);
      }
      const recs = new Map<string, { table: string; columns: string[]; costBefore: number; costAfter: number; savingsPct: number; queries: string[] }>();
      const skipped: { query: string; reason: string; code: string }[] = [];
      const skip = (query: string, code: string, reason: string): void => void skipped.push({ query, code, reason });
      for (const query of queries) {
        ctx.signal.throwIfAborted();
        try {
          await readOnly(c, 30_000, async () => {
            const prep = await Prepared.create(c, query);
            const plan = await prep.explain();
            const before = plan['Total Cost'];
            if (before < l.minCost) return skip(query, 'low-cost', `plan cost ${before} is below minCost ${l.minCost}`);
            const rels = mentionedColumns(plan);
            if (rels.size === 0) return skip(query, 'no-tables', 'the plan reads no table');
            const cands: Omit<Candidate, 'cost'>[] = [];
            let coveredOnly = false;
            let notAllowed = 0;
            for (const [key, mentioned] of rels) {
              let t: TableRef;
              try {
                t = await findTable(c, db, key.startsWith('.') ? key.slice(1) : key);
              } catch (e) {
                if ((e as KuError).code === 'KU_ERR_PG_TABLE_NOT_ALLOWED') notAllowed++;
                else if ((e as KuError).code !== 'KU_ERR_PG_TABLE_NOT_FOUND') throw e;
                continue;
              }
              const cols = await tableColumns(c, t.oid);
              const useful = [...new Set(mentioned.filter((m) => cols.includes(m)))].slice(0, 6);
              const existing = await existingLeadingColumns(c, t.oid);
              const full = `${t.schema}.${t.table}`;
              const options = [...useful.map((a) => [a]), ...useful.flatMap((a) => useful.filter((b) => b !== a).map((b) => [a, b]))];
              for (const o of options) {
                if (covered(o, existing)) coveredOnly = true;
                else cands.push({ table: full, columns: o });
              }
            }
            if (cands.length === 0) {
              if (coveredOnly) return skip(query, 'covered', 'every candidate index is already covered by an existing valid index');
              if (notAllowed) return skip(query, 'not-allowed', 'the tables it reads are outside this agent\'s allowlist');
              return skip(query, 'no-candidates', 'no column of a scanned table is filtered, joined or sorted on');
            }
            let best: Candidate | null = null;
            for (const cand of cands.slice(0, l.maxCandidates)) {
              const [schema, table] = cand.table.split('.') as [string, string];
              await c.query('SELECT * FROM hypopg_create_index($1)', [`CREATE INDEX ON ${quoteIdent(schema)}.${quoteIdent(table)} USING btree (${cand.columns.map(quoteIdent).join(', ')})`]);
              // A new statement per candidate: a prepared statement keeps its cached generic plan.
              const cost = (await (await Prepared.create(c, query)).explain())['Total Cost'];
              await c.query('SELECT hypopg_reset()');
              // Prefer the cheaper plan; on a tie (within 1%), the narrower index.
              if (!best || cost < best.cost * 0.99 || (cost <= best.cost * 1.01 && cand.columns.length < best.columns.length)) best = { ...cand, cost };
            }
            const savingsPct = Math.round(((before - best!.cost) / before) * 1000) / 10;
            if (savingsPct < l.minSavingPct) return skip(query, 'not-enough-saving', `the best candidate ${best!.table}(${best!.columns.join(', ')}) saves ${savingsPct}%, below minSavingPct ${l.minSavingPct}`);
            const key = `${best!.table}(${best!.columns.join(',')})`;
            const rec = recs.get(key) ?? { table: best!.table, columns: best!.columns, costBefore: before, costAfter: best!.cost, savingsPct, queries: [] };
            rec.queries.push(query);
            recs.set(key, rec);
          });
        } catch (e) {
          // One query's trouble is that query's skip reason; only losing the database ends the call.
          const err = pgError(e, 'advise');
          if (err.code === 'KU_ERR_PG_UNAVAILABLE' || ctx.signal.aborted) throw err;
          if (err.code === 'KU_ERR_PG_QUERY_INVALID') skip(query, 'cannot-parse', err.message);
          else if (err.code === 'KU_ERR_TIMEOUT') skip(query, 'timeout', err.message);
          else if ((err.details as { sqlstate?: string } | undefined)?.sqlstate === '42501') skip(query, 'no-permission', err.message);
          else skip(query, 'error', err.message);
        }
      }
      return { recommendations: [...recs.values()], skipped };
    });
  },
});
