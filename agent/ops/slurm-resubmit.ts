/**
 * slurm.resubmit: the job's original batch script again, as its original user, in its original
 * work directory, with its original options plus the added flags, which are parsed and checked
 * against the allowlist. Always argv arrays; the script goes to sbatch on stdin.
 */
import { z } from 'zod';
import { slurmResubmit } from '../../proto/catalogue/slurm-ops.js';
import { KuError } from '../../proto/errors.js';
import { FlagLimitsSchema, parseAddFlags } from '../slurm/flags.js';
import { batchScript, getJob, type SlurmJob } from '../slurm/job.js';
import { implement } from './types.js';

const DEFAULT_STATES = ['FAILED', 'OUT_OF_MEMORY', 'TIMEOUT', 'NODE_FAIL', 'CANCELLED'];

const limits = z
  .object({
    flags: FlagLimitsSchema.default({ requeue: {}, mem: { max: '16G' }, time: { max: '24:00:00' }, 'cpus-per-task': { max: 8 } }),
    states: z.array(z.enum(['FAILED', 'OUT_OF_MEMORY', 'TIMEOUT', 'NODE_FAIL', 'CANCELLED', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE'])).default(DEFAULT_STATES as never).describe('job states that may be resubmitted'),
    systemUids: z.array(z.number().int().min(0)).default([0]).describe('a CANCELLED job qualifies only when one of these uids cancelled it (the system, not its user)'),
    excludeUsers: z.array(z.string()).default(['root']).describe('users whose jobs are never resubmitted'),
    maxResubmits: z.number().int().min(1).max(100).default(3).describe('resubmissions per job'),
    runAs: z.enum(['setuid', 'sudo']).default('setuid').describe('how sbatch runs as the job\'s user: setuid (the agent has CAP_SETUID/CAP_SETGID or is root) or sudo -n -u USER (a sudoers rule for sbatch)'),
  })
  .strict();

/** The original options, from the controller's record when it has one, else from accounting. */
export function originalOptions(job: SlurmJob, ctl: Record<string, string> | null): Map<string, string> {
  const o = new Map<string, string>();
  if (job.name && /^[\w.+-]{1,128}$/.test(job.name)) o.set('job-name', `--job-name=${job.name}`);
  if (job.partition && /^[\w.-]+$/.test(job.partition)) o.set('partition', `--partition=${job.partition}`);
  if (ctl?.TimeLimit && /^[\d:-]+$/.test(ctl.TimeLimit)) o.set('time', `--time=${ctl.TimeLimit}`);
  else if (job.timeLimitSec) o.set('time', `--time=${Math.ceil(job.timeLimitSec / 60)}`);
  if (ctl?.MinMemoryNode && /^\d+[KMGT]?$/.test(ctl.MinMemoryNode)) o.set('mem', `--mem=${ctl.MinMemoryNode}`);
  else if (ctl?.MinMemoryCPU && /^\d+[KMGT]?$/.test(ctl.MinMemoryCPU)) o.set('mem-per-cpu', `--mem-per-cpu=${ctl.MinMemoryCPU}`);
  else if (job.requestedMemoryMB) o.set('mem', `--mem=${Math.ceil(job.requestedMemoryMB)}M`);
  const cpt = Number(ctl?.['CPUs/Task']);
  if (cpt > 1) o.set('cpus-per-task', `--cpus-per-task=${cpt}`);
  const tasks = Number(ctl?.NumTasks);
  if (tasks > 1) o.set('ntasks', `--ntasks=${tasks}`);
  const nodes = Number(ctl?.NumNodes);
  if (nodes > 1) o.set('nodes', `--nodes=${nodes}`);
  // Output paths were resolved for the old job id: reuse the pattern, not the old file.
  for (const [key, flag] of [['StdOut', 'output'], ['StdErr', 'error']] as const) {
    const path = ctl?.[key];
    if (!path || !path.startsWith('/') || path === `${job.workDir}/slurm-${job.jobId}.out`) continue;
    o.set(flag, `--${flag}=${path.split(job.jobId).join('%j')}`);
  }
  return o;
}

export default implement({
  spec: slurmResubmit,
  limits,
  check(params, l) {
    parseAddFlags(params.addFlags, l.flags); // refuse bad flags before touching Slurm
  },
  async run(params, ctx) {
    const l = ctx.limits;
    const added = parseAddFlags(params.addFlags, l.flags);
    const { job, ctl } = await getJob(ctx.exec, params.jobId, ctx.signal);
    const qualifies = (l.states as string[]).includes(job.state) && (job.state !== 'CANCELLED' || (job.cancelledBy !== null && l.systemUids.includes(job.cancelledBy)));
    if (!qualifies) {
      throw new KuError('KU_ERR_SLURM_NOT_RESUBMITTABLE', `job ${job.jobId} is ${job.state}${job.cancelledBy !== null ? ` by uid ${job.cancelledBy}` : ''}; only ${(l.states as string[]).join(', ')} (CANCELLED by the system) are resubmitted`, { state: job.state });
    }
    if (!job.user || l.excludeUsers.includes(job.user) || job.uid === 0) throw new KuError('KU_ERR_SLURM_USER_EXCLUDED', `jobs of user ${job.user || '(unknown)'} are not resubmitted by this agent`);
    if (!job.workDir || !job.workDir.startsWith('/')) throw new KuError('KU_ERR_SLURM_SCRIPT_UNAVAILABLE', `job ${job.jobId} has no recorded work directory`);
    const done = (ctx.store.get(job.jobId) as number | undefined) ?? 0;
    if (done >= l.maxResubmits) throw new KuError('KU_ERR_SLURM_RESUBMIT_BUDGET', `job ${job.jobId} was resubmitted ${done} times (limit ${l.maxResubmits})`);
    const script = await batchScript(ctx.exec, job.jobId, ctx.signal);
    const opts = originalOptions(job, ctl);
    for (const [name, token] of added) {
      opts.delete(name);
      if (name === 'requeue') opts.delete('no-requeue');
      if (name === 'no-requeue') opts.delete('requeue');
      opts.set(name, token);
    }
    const sbatch = ['sbatch', '--parsable', `--chdir=${job.workDir}`, ...opts.values()];
    const argv = l.runAs === 'sudo' ? ['sudo', '-n', '-H', '-u', job.user, '--', ...sbatch] : sbatch;
    const base = { oldJobId: job.jobId, user: job.user, workDir: job.workDir, argv, addedFlags: [...added.values()] };
    if (params.dryRun) return { ...base, newJobId: null, dryRun: true, resubmitsLeft: l.maxResubmits - done };
    let ids: { uid: number; gid: number; home: string } | undefined;
    if (l.runAs === 'setuid') {
      const pw = await ctx.exec(['getent', 'passwd', job.user], { timeoutMs: 5000, signal: ctx.signal });
      const f = pw.stdout.trim().split(':');
      if (pw.code !== 0 || f.length < 7) throw new KuError('KU_ERR_SLURM_FAILED', `user ${job.user} is unknown on this host`);
      ids = { uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
      if (ids.uid === 0) throw new KuError('KU_ERR_SLURM_USER_EXCLUDED', 'jobs of uid 0 are not resubmitted');
    }
    ctx.store.set(job.jobId, done + 1); // the attempt counts whether or not sbatch accepts it
    const r = await ctx.exec(argv, {
      timeoutMs: 30_000,
      signal: ctx.signal,
      cwd: job.workDir,
      stdin: script,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', USER: job.user, LOGNAME: job.user, HOME: ids?.home ?? '/' },
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
    const m = /^(\d+)(;.*)?$/m.exec(r.stdout.trim());
    if (r.code !== 0 || !m) throw new KuError('KU_ERR_SLURM_FAILED', `sbatch failed (${r.code}): ${r.stderr.trim().slice(0, 500)}`, { argv });
    ctx.log.info({ oldJobId: job.jobId, newJobId: m[1], user: job.user }, 'job resubmitted');
    return { ...base, newJobId: m[1]!, dryRun: false, resubmitsLeft: l.maxResubmits - done - 1 };
  },
});
