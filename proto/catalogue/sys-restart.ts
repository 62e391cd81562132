import { z } from 'zod';
import { defineOp } from '../op-spec.js';
import { journalEntry, unitName, unitStatus } from './systemd-common.js';

/** `ku-sys restart-service nginx` */
export const sysRestart = defineOp({
  name: 'sys.restart',
  summary: 'restart an allowlisted systemd unit and wait until it is back',
  mutates: true,
  risk: 'medium',
  timeoutMs: 120_000,
  params: z
    .object({
      unit: unitName,
      dryRun: z.boolean().default(false).describe('report what would happen (exists, allowed, state, budget) without restarting'),
    })
    .strict(),
  result: z.object({
    unit: z.string().describe('exact unit name'),
    dryRun: z.boolean(),
    allowed: z.boolean().describe('whether the agent allowlist covers this unit'),
    budgetLeft: z.number().int().describe('restarts left in the current budget window (after this one)'),
    before: unitStatus.describe('status before the restart'),
    after: unitStatus.nullable().describe('status after the restart; null on a dry run'),
    jobResult: z.string().nullable().describe('systemd job result: done, failed, timeout, canceled, dependency, skipped'),
    changed: z
      .object({
        mainPid: z.object({ from: z.number().nullable(), to: z.number().nullable() }),
        activeState: z.object({ from: z.string(), to: z.string() }),
      })
      .nullable()
      .describe('what changed between before and after'),
    journal: z.array(journalEntry).describe('journal lines of the unit since the restart began (newest first)'),
  }),
  errors: ['KU_ERR_UNIT_NOT_ALLOWED', 'KU_ERR_RESTART_BUDGET_EXCEEDED', 'KU_ERR_UNIT_NOT_FOUND', 'KU_ERR_UNIT_FAILED', 'KU_ERR_SYSTEMD_DENIED', 'KU_ERR_SYSTEMD_UNAVAILABLE'],
  destructive: true,
  cli: { bin: 'ku-sys', command: 'restart-service', positional: ['unit'], aliases: ['restart'] },
});
