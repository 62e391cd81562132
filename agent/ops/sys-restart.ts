/**
 * sys.restart: restart a unit that this host's allowlist names, within a
 * per-unit restart budget, wait for systemd's job, and report what changed.
 * A unit that does not come back (job failed, or it fails within the settle
 * window) is an error carrying the journal lines that explain it.
 */
import { z } from 'zod';
import { resolveUnitName } from '../../proto/catalogue/systemd-common.js';
import { sysRestart } from '../../proto/catalogue/sys-restart.js';
import { KuError } from '../../proto/errors.js';
import { globRegExp } from '../../runtime/glob.js';
import type { UnitStatus } from '../systemd/bus.js';
import { existingUnit, withBus } from '../systemd/deps.js';
import { readJournal, type JournalEntry } from '../systemd/journal.js';
import { implement } from './types.js';

/** An allowlist entry as a pattern; an entry without a unit type (`nginx`) means `nginx.service`. */
export function unitGlob(glob: string): RegExp {
  return globRegExp(glob.includes('.') || glob.endsWith('*') ? glob : `${glob}.service`);
}

const limits = z
  .object({
    units: z
      .array(z.string().regex(/^[A-Za-z0-9:_.@*\\-]+$/, 'unit names or globs with *'))
      .min(1)
      .describe('units (names or globs, e.g. "nginx.service", "app-*.service") that may be restarted'),
    budget: z
      .object({
        max: z.number().int().min(1).max(1000).default(3).describe('restarts per unit within the window'),
        windowMinutes: z.number().min(0.01).max(1440).default(10),
      })
      .strict()
      .default({ max: 3, windowMinutes: 10 })
      .describe('restart budget per unit: stops restart storms'),
    settleMs: z.number().int().min(0).max(60_000).default(1500).describe('how long the unit must stay up after its restart job finishes'),
  })
  .strict();

type Limits = z.output<typeof limits>;

/** Whether the allowlist covers a unit; entries without a unit type mean `.service`. */
export function allowed(unit: string, l: Pick<Limits, 'units'>): boolean {
  return l.units.some((g) => unitGlob(g).test(unit));
}

/** Restart timestamps per unit within the window; kept in the agent's state, across its restarts. */
function budget(store: Map<string, unknown>, unit: string, l: Limits, now: number): { left: number; times: number[] } {
  const windowMs = l.budget.windowMinutes * 60_000;
  const kept = (store.get(unit) as number[] | undefined) ?? [];
  const times = kept.filter((t) => t > now - windowMs);
  if (times.length !== kept.length) {
    if (times.length) store.set(unit, times);
    else store.delete(unit);
  }
  return { left: Math.max(0, l.budget.max - times.length), times };
}

const FAILED_STATES = new Set(['failed', 'inactive']);

export default implement({
  spec: sysRestart,
  limits,
  check(params, l) {
    const unit = resolveUnitName(params.unit);
    // A dry run answers "is it allowed?" instead of refusing.
    if (!params.dryRun && !allowed(unit, l)) throw new KuError('KU_ERR_UNIT_NOT_ALLOWED', `${unit} is not in this agent's restart allowlist`, { unit, allowlist: l.units });
  },
  async run(params, ctx) {
    const unit = resolveUnitName(params.unit);
    const l = ctx.limits;
    return withBus(ctx.host.systemd.busAddress, async (bus) => {
      const before = await existingUnit(bus, unit);
      const now = Date.now();
      const b = budget(ctx.store, unit, l, now);
      if (params.dryRun) {
        return { unit, dryRun: true, allowed: allowed(unit, l), budgetLeft: b.left, before, after: null, jobResult: null, changed: null, journal: [] };
      }
      if (b.left <= 0) {
        const retryAt = new Date(b.times[0]! + l.budget.windowMinutes * 60_000).toISOString();
        throw new KuError('KU_ERR_RESTART_BUDGET_EXCEEDED', `${unit} was restarted ${b.times.length} times in the last ${l.budget.windowMinutes} min (budget ${l.budget.max})`, { unit, retryAt });
      }
      ctx.store.set(unit, [...b.times, now]); // an attempt counts whether or not it succeeds
      const since = new Date(now - 1000).toISOString();
      const job = await bus.restart(unit, ctx.signal);
      ctx.progress({ unit, job: job.job, jobResult: job.result });
      let after: UnitStatus = await bus.status(unit);
      // A service can pass its start job and die a moment later: watch it for the settle window.
      const settleUntil = Date.now() + l.settleMs;
      while (job.result === 'done' && !FAILED_STATES.has(after.activeState) && Date.now() < settleUntil) {
        await new Promise((r) => setTimeout(r, 100));
        ctx.signal.throwIfAborted();
        after = await bus.status(unit);
      }
      const journal: JournalEntry[] = (
        await readJournal(ctx.exec, {
          unit,
          since,
          limit: 20,
          maxBytes: 64 * 1024,
          ...(ctx.host.systemd.journalDirectory ? { directory: ctx.host.systemd.journalDirectory } : {}),
          timeoutMs: 10_000,
          signal: ctx.signal,
        }).catch(() => ({ entries: [] as JournalEntry[] }))
      ).entries;
      const changed = {
        mainPid: { from: before.mainPid, to: after.mainPid },
        activeState: { from: before.activeState, to: after.activeState },
      };
      if (job.result !== 'done' || FAILED_STATES.has(after.activeState)) {
        throw new KuError('KU_ERR_UNIT_FAILED', `${unit} did not come back after restart (job ${job.result}, now ${after.activeState}/${after.subState}, result ${after.result})`, {
          unit,
          jobResult: job.result,
          after,
          journal,
        });
      }
      return { unit, dryRun: false, allowed: true, budgetLeft: b.left - 1, before, after, jobResult: job.result, changed, journal };
    });
  },
});
