/** pg.verify-index: the reviewer's independent check. SHIP only when every check passes. */
import { z } from 'zod';
import { pgVerifyIndex } from '../../proto/catalogue/pg-ops.js';
import { findIndex, parseProvenance, pgError, pickDb, withDb } from '../postgres/db.js';
import { Prepared, queryById, readOnly, summarize } from '../postgres/plan.js';
import { implement } from './types.js';

export default implement({
  spec: pgVerifyIndex,
  limits: z.object({ minSavingPct: z.number().min(0).max(100).default(30).describe('cost drop needed for SHIP, in percent') }).strict(),
  async run(params, ctx) {
    const db = pickDb(ctx.host, params.db);
    return withDb(db, 'verify-index', async (c) => {
      const idx = await findIndex(c, db, params.index);
      const query = params.query ?? (await queryById(c, params.queryid!));
      const plan = await readOnly(c, 10_000, async () => (await Prepared.create(c, query)).explain());
      const summary = summarize(plan);
      try {
        const builds = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_progress_create_index WHERE relid = $1', [idx.toid]);
        const invalid = await c.query<{ name: string }>('SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = $1 AND NOT indisvalid', [idx.toid]);
        const idle = await c.query<{ n: number }>(
          "SELECT count(DISTINCT l.pid)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.relation = $1 AND a.state LIKE 'idle in transaction%'",
          [idx.toid],
        );
        const baselineCost = params.baselineCost ?? parseProvenance(idx.comment)?.baselineCost ?? null;
        const cost = summary.totalCost;
        const savingsPct = baselineCost ? Math.round(((baselineCost - cost) / baselineCost) * 1000) / 10 : null;
        const checks = {
          valid: idx.indisvalid,
          ready: idx.indisready,
          used: summary.indexesUsed.includes(idx.relname),
          baselineCost,
          cost,
          savingsPct,
          runningBuilds: builds.rows[0]!.n,
          invalidIndexes: invalid.rows.map((r) => r.name),
          idleInTransaction: idle.rows[0]!.n,
        };
        const reasons: string[] = [];
        if (!checks.valid) reasons.push(`index ${idx.relname} is not valid`);
        if (!checks.ready) reasons.push(`index ${idx.relname} is not ready`);
        if (!checks.used) reasons.push(`the query's plan does not use ${idx.relname} (it uses ${summary.indexesUsed.join(', ') || 'no index'}; seq scans on ${summary.seqScans.join(', ') || 'nothing'})`);
        if (baselineCost === null) reasons.push('no baseline cost: apply the index with --query/--queryid or pass --baseline-cost');
        else if ((savingsPct ?? 0) < ctx.limits.minSavingPct) reasons.push(`cost fell ${savingsPct}% (from ${baselineCost} to ${cost}); at least ${ctx.limits.minSavingPct}% is needed`);
        if (checks.runningBuilds) reasons.push(`${checks.runningBuilds} index build(s) still running on ${idx.table}`);
        if (checks.invalidIndexes.length) reasons.push(`INVALID indexes on ${idx.table}: ${checks.invalidIndexes.join(', ')}`);
        if (checks.idleInTransaction) reasons.push(`${checks.idleInTransaction} session(s) idle in transaction hold locks on ${idx.table}`);
        return { verdict: reasons.length ? ('REVISE' as const) : ('SHIP' as const), reasons, checks, summary };
      } catch (e) {
        throw pgError(e, 'verify-index');
      }
    });
  },
});
