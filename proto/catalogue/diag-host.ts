import { z } from 'zod';
import { defineOp } from '../op-spec.js';

const disk = z.object({
  mount: z.string().describe('mount point'),
  fs: z.string().describe('device or filesystem source'),
  type: z.string().describe('filesystem type'),
  sizeBytes: z.number().describe('total size in bytes'),
  usedBytes: z.number().describe('used bytes'),
  usePct: z.number().describe('percent used'),
});

const proc = z.object({
  pid: z.number().int().describe('process id'),
  name: z.string().describe('process name'),
  user: z.string().describe('owner'),
  cpuPct: z.number().describe('CPU percent'),
  memPct: z.number().describe('memory percent'),
  rssBytes: z.number().describe('resident memory in bytes'),
  command: z.string().describe('command line, truncated to 200 characters'),
});

/** `ku-diag host`: a one-shot picture of a host's health. */
export const diagHost = defineOp({
  name: 'diag.host',
  summary: 'CPU, memory, load, disks and top processes of a host',
  mutates: false,
  risk: 'none',
  timeoutMs: 15_000,
  params: z
    .object({
      top: z.number().int().min(1).max(50).default(5).describe('how many top processes (by CPU) to list'),
    })
    .strict(),
  result: z.object({
    hostname: z.string().describe('host name as the host reports it'),
    os: z.object({
      platform: z.string(),
      distro: z.string(),
      release: z.string(),
      kernel: z.string(),
      arch: z.string(),
    }),
    uptimeSec: z.number().describe('seconds since boot'),
    cpu: z.object({
      brand: z.string(),
      cores: z.number().int().describe('logical cores'),
      physicalCores: z.number().int(),
      speedGHz: z.number(),
    }),
    load: z.object({
      avg1: z.number(),
      avg5: z.number(),
      avg15: z.number(),
      currentPct: z.number().describe('CPU busy percent now'),
    }),
    memory: z.object({
      totalBytes: z.number(),
      usedBytes: z.number().describe('used, excluding buffers and cache'),
      availableBytes: z.number(),
      swapTotalBytes: z.number(),
      swapUsedBytes: z.number(),
    }),
    disks: z.array(disk).describe('local filesystems'),
    topProcesses: z.array(proc).describe('processes using the most CPU'),
  }),
  errors: ['KU_ERR_LIMIT_EXCEEDED'],
  cli: { bin: 'ku-diag', command: 'host' },
});
