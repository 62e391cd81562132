import { z } from 'zod';
import { defineOp } from '../op-spec.js';
import { journalEntry, unitName, unitStatus } from './systemd-common.js';

/** `ku-diag service-status --name nginx`: "why is nginx down" in one answer. */
export const diagService = defineOp({
  name: 'diag.service',
  summary: 'unit status plus its most recent error-priority journal lines',
  mutates: false,
  risk: 'none',
  timeoutMs: 30_000,
  params: z
    .object({
      name: unitName,
      lines: z.number().int().min(1).max(200).default(10).describe('error lines to include'),
    })
    .strict(),
  result: z.object({
    status: unitStatus,
    errors: z.array(journalEntry).describe('most recent entries of priority err or worse, newest first'),
  }),
  errors: ['KU_ERR_UNIT_NOT_FOUND', 'KU_ERR_SYSTEMD_UNAVAILABLE', 'KU_ERR_JOURNAL_FAILED'],
  cli: { bin: 'ku-diag', command: 'service-status', positional: ['name'] },
});
