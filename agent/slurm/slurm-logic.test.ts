import { describe, expect, it } from 'vitest';
import { parseAddFlags } from './flags.js';
import { exitCode, memMB, parseScontrol, timeSec } from './parse.js';
import { originalOptions } from '../ops/slurm-resubmit.js';
import type { SlurmJob } from './job.js';

const limits = { requeue: {}, mem: { max: '32G' }, time: { max: '2-00:00:00' }, 'cpus-per-task': { max: 16 }, partition: { allowed: ['debug', 'long'] } };

describe('--add-flags', () => {
  it('accepts allowlisted flags within limits, normalized', () => {
    expect([...parseAddFlags('--requeue --mem=32G', limits).values()]).toEqual(['--requeue', '--mem=32G']);
    expect([...parseAddFlags('  --time=1-12:00:00   --partition=long ', limits).values()]).toEqual(['--time=1-12:00:00', '--partition=long']);
    expect(parseAddFlags('', limits).size).toBe(0);
  });

  it('refuses, naming the token: forbidden, unknown, over limits, shell syntax, duplicates, short forms', () => {
    const bad: [string, RegExp][] = [
      ['--wrap=id', /never allowed/],
      ['--export=ALL', /never allowed/],
      ['--chdir=/', /never allowed/],
      ['--nice=1', /not in this agent's allowlist/],
      ['--mem=33G', /above this agent's limit/],
      ['--mem=lots', /memory is a number/],
      ['--time=3-00:00:00', /above/],
      ['--cpus-per-task=0', /positive integer/],
      ['--partition=gpu', /not allowed/],
      ['--mem=1G;reboot', /shell syntax/],
      ['--mem=`id`', /shell syntax/],
      ['--requeue --requeue', /twice/],
      ['--requeue=yes', /takes no value/],
      ['-p debug', /--name or --name=value/],
      ['--mem', /needs a value/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseAddFlags(text, limits), text).toThrow(why);
      try {
        parseAddFlags(text, limits);
      } catch (e) {
        expect((e as { code: string }).code).toBe('KU_ERR_SLURM_FLAG_REFUSED');
      }
    }
  });
});

describe('Slurm output parsing', () => {
  it('reads sizes, times and exit codes', () => {
    expect(memMB('800M')).toBe(800);
    expect(memMB('2G')).toBe(2048);
    expect(memMB('737240K')).toBeCloseTo(719.96, 1);
    expect(timeSec('10')).toBe(600);
    expect(timeSec('01:30:00')).toBe(5400);
    expect(timeSec('1-00:00:00')).toBe(86400);
    expect(exitCode('0:125')).toEqual({ exitCode: 0, signal: 125 });
    expect(parseScontrol('JobId=3 JobName=my job UserId=nobody(65534) Command=/a b/c.sh WorkDir=/tmp')).toMatchObject({ JobName: 'my job', Command: '/a b/c.sh', WorkDir: '/tmp' });
  });

  it('rebuilds original options, with output patterns instead of the old file', () => {
    const job = { jobId: '42', name: 'train', partition: 'debug', workDir: '/w', timeLimitSec: null, requestedMemoryMB: 100 } as SlurmJob;
    const o = originalOptions(job, { TimeLimit: '01:00:00', MinMemoryNode: '4G', 'CPUs/Task': '4', StdOut: '/w/logs/train-42.out', StdErr: '/w/slurm-42.out' });
    expect([...o.values()]).toEqual(['--job-name=train', '--partition=debug', '--time=01:00:00', '--mem=4G', '--cpus-per-task=4', '--output=/w/logs/train-%j.out']);
  });
});
