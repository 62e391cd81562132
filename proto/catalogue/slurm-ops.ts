/** The ku-slurm operation family: job inspection and validated resubmission. */
import { z } from 'zod';
import { defineOp } from '../op-spec.js';

const jobId = z.string().regex(/^\d{1,10}$/, 'a numeric Slurm job id').describe('Slurm job id');

const run = z.object({
  jobId: z.string(),
  state: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.number().int().nullable(),
  start: z.string().nullable(),
  end: z.string().nullable(),
  elapsedSec: z.number().nullable(),
  nodeList: z.string().nullable(),
});

/** `ku-slurm job JOBID` */
export const slurmJob = defineOp({
  name: 'slurm.job',
  summary: 'a Slurm job: state, exit code, memory, time, and earlier runs, from sacct and scontrol',
  mutates: false,
  risk: 'none',
  timeoutMs: 30_000,
  params: z.object({ jobId }).strict(),
  result: z.object({
    jobId: z.string(),
    name: z.string(),
    user: z.string(),
    uid: z.number().int().nullable(),
    state: z.string().describe('FAILED, OUT_OF_MEMORY, TIMEOUT, COMPLETED, RUNNING, ...'),
    cancelledBy: z.number().int().nullable().describe('uid that cancelled it, for CANCELLED'),
    exitCode: z.number().int().nullable(),
    signal: z.number().int().nullable(),
    reason: z.string().nullable(),
    requestedMemoryMB: z.number().nullable(),
    peakMemoryMB: z.number().nullable().describe('largest MaxRSS of its steps'),
    elapsedSec: z.number().nullable(),
    timeLimitSec: z.number().nullable().describe('null when unlimited'),
    partition: z.string().nullable(),
    workDir: z.string().nullable(),
    nodeList: z.string().nullable(),
    submit: z.string().nullable(),
    start: z.string().nullable(),
    end: z.string().nullable(),
    outOfMemory: z.boolean(),
    timedOut: z.boolean(),
    restarts: z.number().int().describe('times it was requeued'),
    earlierRuns: z.array(run).describe('runs before a requeue, oldest first'),
    source: z.array(z.enum(['sacct', 'scontrol'])).describe('where the facts came from'),
  }),
  errors: ['KU_ERR_SLURM_JOB_NOT_FOUND', 'KU_ERR_SLURM_UNAVAILABLE'],
  cli: { bin: 'ku-slurm', command: 'job', positional: ['jobId'] },
});

/** `ku-slurm resubmit JOBID --add-flags "--requeue --mem=32G"` */
export const slurmResubmit = defineOp({
  name: 'slurm.resubmit',
  summary: 'submit a failed job\'s batch script again, as its user, with validated added flags',
  mutates: true,
  risk: 'medium',
  timeoutMs: 60_000,
  params: z
    .object({
      jobId,
      addFlags: z.string().max(1000).default('').describe('sbatch flags to add, e.g. "--requeue --mem=32G"; only the agent\'s allowlisted flags, within its limits'),
      dryRun: z.boolean().default(false).describe('print the exact argv that would run, submit nothing'),
    })
    .strict(),
  result: z.object({
    oldJobId: z.string(),
    newJobId: z.string().nullable().describe('null on a dry run'),
    user: z.string(),
    workDir: z.string(),
    argv: z.array(z.string()).describe('exactly what ran (or would run), as argv; the script goes on stdin'),
    addedFlags: z.array(z.string()),
    dryRun: z.boolean(),
    resubmitsLeft: z.number().int(),
  }),
  errors: [
    'KU_ERR_SLURM_JOB_NOT_FOUND', 'KU_ERR_SLURM_NOT_RESUBMITTABLE', 'KU_ERR_SLURM_FLAG_REFUSED', 'KU_ERR_SLURM_USER_EXCLUDED',
    'KU_ERR_SLURM_RESUBMIT_BUDGET', 'KU_ERR_SLURM_SCRIPT_UNAVAILABLE', 'KU_ERR_SLURM_FAILED',
  ],
  cli: { bin: 'ku-slurm', command: 'resubmit', positional: ['jobId'] },
  auditFields: ['oldJobId', 'newJobId', 'argv'],
});
