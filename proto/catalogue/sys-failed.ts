import { z } from 'zod';
import { defineOp } from '../op-spec.js';
import { journalEntry } from './systemd-common.js';

/** `ku-sys failed` */
export const sysFailed = defineOp({
  name: 'sys.failed',
  summary: 'failed systemd units with their result and last journal lines',
  mutates: false,
  risk: 'none',
  timeoutMs: 30_000,
  params: z.object({ lines: z.number().int().min(0).max(50).default(5).describe('journal lines per unit') }).strict(),
  result: z.object({
    units: z.array(
      z.object({
        unit: z.string(),
        description: z.string(),
        activeState: z.string(),
        subState: z.string(),
        result: z.string().nullable(),
        since: z.string().nullable(),
        lastLines: z.array(journalEntry).describe('the unit\'s last journal lines, newest first'),
      }),
    ),
  }),
  errors: ['KU_ERR_SYSTEMD_UNAVAILABLE', 'KU_ERR_SYSTEMD_DENIED'],
  cli: { bin: 'ku-sys', command: 'failed' },
});
