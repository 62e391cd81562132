/**
 * ku-slurm against a real single-node Slurm 22.05 with accounting (MariaDB + slurmdbd), through
 * the ku-slurm CLI, the hub and an agent over mTLS. Jobs run as the unprivileged user nobody.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../hub/audit.js';
import { HUB_FILES } from '../../hub/state.js';
import { cleanup, cli, principal, startAgent, startHub, waitFor, type HubCtx } from '../helpers/rig.js';
import { requireSlurmRig, slurm, slurmDown, slurmUp } from '../rig/slurm.js';

const enabled = requireSlurmRig();
let h: HubCtx;
let env: Record<string, string>;
const jobs: Record<string, string> = {};

const OPS = {
  'slurm.job': {},
  'slurm.resubmit': {
    flags: { requeue: {}, mem: { max: '1G' }, time: { max: '01:00:00' }, 'cpus-per-task': { max: 2 }, partition: { allowed: ['debug'] } },
    excludeUsers: ['root'],
    maxResubmits: 2,
    runAs: 'setuid',
  },
};

const state = (id: string): string => slurm(['sacct', '-j', id, '-X', '--noheader', '--parsable2', '--format=State']).split('\n')[0] ?? '';
/** Job ids the cluster knows, with user and name (a requeued job can show more than one accounting row). */
function jobIds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of slurm(['sacct', '-a', '-X', '--noheader', '--parsable2', '--format=JobIDRaw,User,JobName', '-S', 'now-1hour']).split('\n')) {
    const [id, user, name] = l.split('|');
    if (id) out.set(id, `${user}:${name}`);
  }
  for (const l of slurm(['squeue', '-h', '-t', 'all', '-o', '%A|%u|%j']).split('\n')) {
    const [id, user, name] = l.split('|');
    if (id) out.set(id, `${user}:${name}`);
  }
  return out;
}
/** Jobs that appeared since `before` and look like a resubmission of a test job (nobody's wrap/hungry). */
const resubmittedSince = (before: Map<string, string>): string[] => [...jobIds()].filter(([id, who]) => !before.has(id) && /^nobody:(wrap|hungry)$/.test(who)).map(([id]) => id);

async function kuslurm(...args: string[]) {
  const r = await cli('ku-slurm', [...args, '--json'], env);
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { code: r.code, out: lines.find((l) => l.ok !== undefined) ?? {}, stderr: r.stderr };
}

beforeAll(async () => {
  if (!enabled) return;
  slurmUp();
  const sub = (args: string[], user = 'nobody') => slurm(['sbatch', '--parsable', '-D', '/tmp', ...args], user === 'root' ? undefined : user);
  jobs.failed = sub(['--mem=100M', '--wrap', 'echo boom >&2; exit 3']);
  jobs.oom = sub(['--mem=50M', '--job-name=hungry', '--wrap', 'perl -e "\\$x = q(a) x (200*1024*1024); sleep 1"']);
  jobs.ok = sub(['--wrap', 'echo fine']);
  jobs.running = sub(['--wrap', 'sleep 300']);
  jobs.rootFailed = sub(['--wrap', 'exit 1'], 'root');
  await waitFor(
    () => ['FAILED', 'OUT_OF_MEMORY', 'COMPLETED', 'RUNNING', 'FAILED'].every((s, i) => state(Object.values(jobs)[i]!) === s),
    () => `jobs to reach their states: ${Object.entries(jobs).map(([k, v]) => `${k}=${state(v)}`).join(' ')}`,
    60_000,
  );
  h = await startHub();
  await startAgent(h, { name: 'slurm-head', ops: OPS });
  env = { KU_HUB: h.addr, KU_IDENTITY: await principal(h, 'admin', 'hpc-bot') };
}, 180_000);

afterAll(async () => {
  await cleanup();
  if (enabled) slurmDown();
});

describe.runIf(enabled)('ku-slurm job', () => {
  it('a job that exits non-zero shows FAILED with its exit code', async () => {
    const r = await kuslurm('job', jobs.failed!);
    expect(r.code).toBe(0);
    expect(r.out.data).toMatchObject({ jobId: jobs.failed, state: 'FAILED', exitCode: 3, signal: 0, user: 'nobody', uid: 65534, workDir: '/tmp', partition: 'debug', requestedMemoryMB: 100, outOfMemory: false, timedOut: false });
    expect(r.out.data.source).toEqual(['sacct', 'scontrol']);
  });

  it('a job that exceeds its memory shows the out-of-memory outcome', async () => {
    const r = await kuslurm('job', jobs.oom!);
    expect(r.out.data).toMatchObject({ state: 'OUT_OF_MEMORY', outOfMemory: true, requestedMemoryMB: 50, name: 'hungry' });
  });

  it('a requeued job lists its earlier run', async () => {
    slurm(['scontrol', 'requeue', jobs.running!]);
    await waitFor(() => slurm(['sacct', '-j', jobs.running!, '-D', '-X', '--noheader', '--parsable2', '--format=State']).includes('REQUEUED'), 'sacct to record the requeue', 30_000);
    const r = await kuslurm('job', jobs.running!);
    expect(r.out.data.restarts).toBe(1);
    expect(r.out.data.earlierRuns).toHaveLength(1);
    expect(r.out.data.earlierRuns[0]).toMatchObject({ jobId: jobs.running, state: 'REQUEUED' });
  });

  it('an unknown job id is a clear error', async () => {
    const r = await kuslurm('job', '999999');
    expect(r.out.error.code).toBe('KU_ERR_SLURM_JOB_NOT_FOUND');
    expect(r.code).toBe(1);
  });
});

describe.runIf(enabled)('ku-slurm resubmit', () => {
  it('resubmits the memory-starved job with more memory: same script, same user, completes; linked in result and audit', async () => {
    const r = await kuslurm('resubmit', jobs.oom!, '--add-flags', '--requeue --mem=800M');
    expect(r.code, JSON.stringify(r.out)).toBe(0);
    const d = r.out.data;
    expect(d).toMatchObject({ oldJobId: jobs.oom, user: 'nobody', workDir: '/tmp', dryRun: false, addedFlags: ['--requeue', '--mem=800M'] });
    expect(d.argv).toEqual(['sbatch', '--parsable', '--chdir=/tmp', '--job-name=hungry', '--partition=debug', '--requeue', '--mem=800M']);
    const newId = d.newJobId as string;
    expect(newId).toMatch(/^\d+$/);
    await waitFor(() => state(newId) === 'COMPLETED', () => `job ${newId} to complete (now ${state(newId)}: ${slurm(['scontrol', '-o', 'show', 'job', newId])})`, 90_000);
    const ctl = slurm(['scontrol', '-o', 'show', 'job', newId]);
    expect(ctl).toMatch(/UserId=nobody\(65534\)/);
    expect(ctl).toMatch(/MinMemoryNode=800M/);
    expect(ctl).toMatch(/WorkDir=\/tmp /);
    expect(slurm(['scontrol', 'write', 'batch_script', newId, '-'])).toBe(slurm(['scontrol', 'write', 'batch_script', jobs.oom!, '-']));
    const rec = readAudit(join(h.dir, HUB_FILES.audit)).find((x) => x.kind === 'outcome' && x.id === r.out.auditId);
    expect(rec?.result).toMatchObject({ oldJobId: jobs.oom, newJobId: newId });
    const after = await kuslurm('job', newId);
    expect(after.out.data).toMatchObject({ state: 'COMPLETED', exitCode: 0, requestedMemoryMB: 800, user: 'nobody' });
  }, 120_000);

  it('--dry-run prints the exact argv and submits nothing', async () => {
    const before = jobIds();
    const r = await kuslurm('resubmit', jobs.failed!, '--add-flags', '--time=00:10:00', '--dry-run');
    expect(r.code).toBe(0);
    expect(r.out.data).toMatchObject({ dryRun: true, newJobId: null, argv: ['sbatch', '--parsable', '--chdir=/tmp', '--job-name=wrap', '--partition=debug', '--mem=100M', '--time=00:10:00'] });
    expect(resubmittedSince(before)).toEqual([]);
  });

  it('refuses bad flags, limits, states, unknown jobs and excluded users, naming the cause, and submits nothing', async () => {
    const before = jobIds();
    const submitted = () => readAudit(join(h.dir, HUB_FILES.audit)).filter((x) => x.op === 'slurm.resubmit' && x.kind === 'outcome' && x.ok === true).length;
    const submittedBefore = submitted();
    const cases: [string, string, string][] = [
      [jobs.failed!, '--wrap=id', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--nice=5', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--mem=2G', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--time=02:00:00', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--partition=gpu', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--mem=1G;id', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--mem=$(id)', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--mem=100M --mem=200M', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--export=ALL', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '--chdir=/root', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.failed!, '-p debug', 'KU_ERR_SLURM_FLAG_REFUSED'],
      [jobs.running!, '--requeue', 'KU_ERR_SLURM_NOT_RESUBMITTABLE'],
      [jobs.ok!, '--requeue', 'KU_ERR_SLURM_NOT_RESUBMITTABLE'],
      ['999999', '--requeue', 'KU_ERR_SLURM_JOB_NOT_FOUND'],
      [jobs.rootFailed!, '--requeue', 'KU_ERR_SLURM_USER_EXCLUDED'],
    ];
    for (const [id, flags, code] of cases) {
      const r = await kuslurm('resubmit', id, '--add-flags', flags);
      expect(r.out.error?.code, `${id} ${flags}`).toBe(code);
      if (code === 'KU_ERR_SLURM_FLAG_REFUSED') expect(r.out.error.details.token, flags).toBe(flags.split(' ').find((t) => t !== '--mem=100M') ?? flags);
    }
    expect(resubmittedSince(before)).toEqual([]);
    // And by ku's own record: every one of these calls was refused, none submitted.
    expect(submitted()).toBe(submittedBefore);
  });

  it('a per-job resubmit budget stops the third resubmission', async () => {
    for (let i = 0; i < 2; i++) expect((await kuslurm('resubmit', jobs.failed!, '--add-flags', '--requeue')).code).toBe(0);
    const third = await kuslurm('resubmit', jobs.failed!, '--add-flags', '--requeue');
    expect(third.out.error.code).toBe('KU_ERR_SLURM_RESUBMIT_BUDGET');
  });
});
