/**
 * A job as ku reports it, merged from sacct (accounting: survives the controller's memory) and
 * `scontrol show job` (the controller's record, while it still has it).
 */
import { KuError } from '../../proto/errors.js';
import type { Executor } from '../executor.js';
import { exitCode, iso, memMB, parseSacct, parseScontrol, SACCT_FIELDS, timeSec, type SacctRow } from './parse.js';

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', TZ: 'UTC' };

async function run(exec: Executor, argv: string[], signal: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await exec(argv, { timeoutMs: 20_000, signal, env: ENV, maxOutputBytes: 4 * 1024 * 1024 });
  if (r.timedOut) throw new KuError('KU_ERR_SLURM_UNAVAILABLE', `${argv[0]} did not answer within 20 s`);
  return r;
}

export interface SlurmJob {
  jobId: string;
  name: string;
  user: string;
  uid: number | null;
  state: string;
  cancelledBy: number | null;
  exitCode: number | null;
  signal: number | null;
  reason: string | null;
  requestedMemoryMB: number | null;
  peakMemoryMB: number | null;
  elapsedSec: number | null;
  timeLimitSec: number | null;
  partition: string | null;
  workDir: string | null;
  nodeList: string | null;
  submit: string | null;
  start: string | null;
  end: string | null;
  outOfMemory: boolean;
  timedOut: boolean;
  restarts: number;
  earlierRuns: { jobId: string; state: string; exitCode: number | null; signal: number | null; start: string | null; end: string | null; elapsedSec: number | null; nodeList: string | null }[];
  source: ('sacct' | 'scontrol')[];
}

/** Everything ku knows of a job; the raw scontrol record too, for resubmission. */
export async function getJob(exec: Executor, jobId: string, signal: AbortSignal): Promise<{ job: SlurmJob; ctl: Record<string, string> | null }> {
  const sacct = await run(exec, ['sacct', '-j', jobId, '--duplicates', '--parsable2', '--noheader', `--format=${SACCT_FIELDS.join(',')}`], signal);
  const rows = sacct.code === 0 ? parseSacct(sacct.stdout) : [];
  const ctlRun = await run(exec, ['scontrol', '--oneliner', 'show', 'job', jobId], signal);
  const ctl = ctlRun.code === 0 && ctlRun.stdout.includes('JobId=') ? parseScontrol(ctlRun.stdout) : null;
  if (sacct.code !== 0 && !ctl && !/Invalid job id/i.test(ctlRun.stderr)) {
    throw new KuError('KU_ERR_SLURM_UNAVAILABLE', `sacct and scontrol failed: ${sacct.stderr.trim()} ${ctlRun.stderr.trim()}`.slice(0, 500));
  }
  const mains = rows.filter((r) => r.JobIDRaw === jobId);
  if (!mains.length && !ctl) throw new KuError('KU_ERR_SLURM_JOB_NOT_FOUND', `no job ${jobId} on this cluster`, { jobId });
  // sacct marks the runs before a requeue REQUEUED; the current run has its own row once it starts.
  const cur: SacctRow | undefined = [...mains].reverse().find((r) => !r.State.startsWith('REQUEUED')) ?? (ctl ? undefined : mains.at(-1));
  const any: SacctRow | undefined = mains.at(-1);
  const steps = rows.filter((r) => r.JobID.startsWith(`${jobId}.`));
  const peaks = steps.map((s) => memMB(s.MaxRSS)).filter((x): x is number => x !== null && x > 0);
  const rawState = ctl?.JobState ?? cur?.State ?? 'UNKNOWN';
  const by = /CANCELLED by (\d+)/.exec(cur?.State ?? any?.State ?? '');
  const state = rawState.split(' ')[0]!;
  const ec = exitCode(ctl?.ExitCode ?? cur?.ExitCode);
  const limitRaw = ctl?.TimeLimit ?? (any?.TimelimitRaw ? `${any.TimelimitRaw}` : '');
  const timeLimitSec = !limitRaw || /UNLIMITED|Partition_Limit/.test(limitRaw) ? null : ctl?.TimeLimit ? timeSec(ctl.TimeLimit) : Number(any!.TimelimitRaw) * 60;
  const userField = ctl?.UserId ?? any?.User ?? '';
  const user = userField.replace(/\(\d+\)$/, '');
  const uidMatch = /\((\d+)\)$/.exec(userField);
  const job: SlurmJob = {
    jobId,
    name: ctl?.JobName ?? any?.JobName ?? '',
    user,
    uid: uidMatch ? Number(uidMatch[1]) : any?.UID ? Number(any.UID) : null,
    state,
    cancelledBy: by ? Number(by[1]) : null,
    exitCode: ec.exitCode,
    signal: ec.signal,
    reason: ctl?.Reason && ctl.Reason !== 'None' ? ctl.Reason : cur?.Reason && cur.Reason !== 'None' ? cur.Reason : null,
    requestedMemoryMB: memMB(ctl?.MinMemoryNode ?? any?.ReqMem),
    peakMemoryMB: peaks.length ? Math.max(...peaks) : null,
    elapsedSec: cur?.ElapsedRaw ? Number(cur.ElapsedRaw) : null,
    timeLimitSec,
    partition: ctl?.Partition ?? any?.Partition ?? null,
    workDir: ctl?.WorkDir ?? any?.WorkDir ?? null,
    nodeList: ctl?.NodeList && ctl.NodeList !== '(null)' ? ctl.NodeList : cur?.NodeList || null,
    submit: iso(ctl?.SubmitTime ?? any?.Submit),
    start: iso(ctl?.StartTime ?? cur?.Start),
    end: iso(ctl?.EndTime ?? cur?.End),
    outOfMemory: state === 'OUT_OF_MEMORY' || steps.some((s) => s.State.startsWith('OUT_OF_ME')),
    timedOut: state === 'TIMEOUT',
    restarts: ctl?.Restarts ? Number(ctl.Restarts) : mains.filter((r) => r.State.startsWith('REQUEUED')).length,
    earlierRuns: mains.filter((r) => r.State.startsWith('REQUEUED')).map((r) => ({
      jobId,
      state: r.State.split(' ')[0]!,
      ...exitCode(r.ExitCode),
      start: iso(r.Start),
      end: iso(r.End),
      elapsedSec: r.ElapsedRaw ? Number(r.ElapsedRaw) : null,
      nodeList: r.NodeList || null,
    })),
    source: [...(mains.length ? (['sacct'] as const) : []), ...(ctl ? (['scontrol'] as const) : [])],
  };
  return { job, ctl };
}

/** The job's batch script: from the controller, else from accounting (AccountingStoreFlags=job_script). */
export async function batchScript(exec: Executor, jobId: string, signal: AbortSignal): Promise<string> {
  const ctl = await run(exec, ['scontrol', 'write', 'batch_script', jobId, '-'], signal);
  if (ctl.code === 0 && ctl.stdout.startsWith('#!')) return ctl.stdout;
  const acct = await run(exec, ['sacct', '-j', jobId, '--batch-script', '--noheader'], signal);
  const body = acct.stdout.split(/^-{10,}\s*$/m)[1]?.replace(/^\n/, '') ?? '';
  if (acct.code === 0 && body.trim() && body.trim() !== 'NONE') return body;
  throw new KuError('KU_ERR_SLURM_SCRIPT_UNAVAILABLE', `the batch script of job ${jobId} is gone from the controller and not stored in accounting`, { jobId });
}
