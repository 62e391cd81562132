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
      unit: unitName.optional(),
      priority: priority.optional(),
      since: timeSpec.optional(),
      until: timeSpec.optional(),
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
