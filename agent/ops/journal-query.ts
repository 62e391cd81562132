import { z } from 'zod';
import { journalQuery } from '../../proto/catalogue/journal-query.js';
import { priorityNumber, resolveUnitName } from '../../proto/catalogue/systemd-common.js';
import { KuError } from '../../proto/errors.js';
import { readJournal } from '../systemd/journal.js';
import { implement } from './types.js';

export default implement({
  spec: journalQuery,
  limits: z
    .object({
      maxLines: z.number().int().min(1).max(100_000).default(1000).describe('hard cap on entries per query'),
      maxBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024).describe('hard cap on message bytes per query'),
    })
    .strict(),
  check(params) {
    if (params.since && params.until && params.since === params.until) throw new KuError('KU_ERR_INVALID_PARAMS', 'since and until are the same time');
  },
  async run(params, ctx) {
    // More lines than this host allows are not an error: the cap applies and the result says so.
    const limit = Math.min(params.lines, ctx.limits.maxLines);
    const r = await readJournal(ctx.exec, {
      ...(params.unit ? { unit: resolveUnitName(params.unit) } : {}),
      ...(params.priority !== undefined ? { priority: priorityNumber(params.priority) } : {}),
      ...(params.since ? { since: params.since } : {}),
      ...(params.until ? { until: params.until } : {}),
      ...(params.match ? { match: params.match } : {}),
      ...(ctx.host.systemd.journalDirectory ? { directory: ctx.host.systemd.journalDirectory } : {}),
      limit,
      maxBytes: ctx.limits.maxBytes,
      timeoutMs: Math.max(1000, ctx.deadline - Date.now()),
      signal: ctx.signal,
      onBatch: (entries) => ctx.chunk({ entries }),
    });
    return { entries: r.entries, count: r.entries.length, truncated: r.truncated };
  },
});
