import { z } from 'zod';
import { defineOp } from '../op-spec.js';
import { journalEntry, priority, timeSpec, truncation, unitName } from './systemd-common.js';

/** `ku-diag journal --priority err [--unit U] [--since 1h] [--lines N]` */
export const journalQuery = defineOp({
  name: 'journal.query',
  summary: 'query the systemd journal: unit, priority, time window, fixed-string match',
  mutates: false,
  risk: 'none',
  timeoutMs: 60_000,
  params: z
    .object({
      unit: unitName.optional().describe('only this unit (".service" assumed without a unit type)'),
      priority: priority.optional().describe('lowest severity to include: a name (err, warning, ...) or 0-7'),
      since: timeSpec.optional().describe('from this time: a duration ago (30m, 2h, 7d) or an ISO 8601 timestamp'),
      until: timeSpec.optional().describe('up to this time: a duration ago or an ISO 8601 timestamp'),
      lines: z.number().int().min(1).max(100_000).default(100).describe('most entries to return (the agent may cap lower)'),
      match: z.string().min(1).max(512).optional().describe('only entries whose message contains this fixed string'),
    })
    .strict(),
  result: z.object({
    entries: z.array(journalEntry).describe('matching entries, newest first'),
    count: z.number().int(),
    truncated: truncation,
  }),
  errors: ['KU_ERR_LIMIT_EXCEEDED', 'KU_ERR_JOURNAL_FAILED'],
  cli: { bin: 'ku-diag', command: 'journal' },
});
