import os from 'node:os';
import si from 'systeminformation';
import { z } from 'zod';
import { diagHost } from '../../proto/catalogue/diag-host.js';
import { KuError } from '../../proto/errors.js';
import { implement } from './types.js';

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

/** Filesystem types that are not real disks. */
const PSEUDO_FS = new Set(['tmpfs', 'devtmpfs', 'overlay', 'squashfs', 'proc', 'sysfs', 'cgroup', 'cgroup2', 'nsfs', 'autofs']);

export default implement({
  spec: diagHost,
  limits: z
    .object({
      maxTop: z.number().int().min(1).max(50).default(20).describe('largest --top this host answers'),
    })
    .strict(),
  check(params, limits) {
    if (params.top > limits.maxTop) throw new KuError('KU_ERR_LIMIT_EXCEEDED', `top ${params.top} exceeds this host's limit ${limits.maxTop}`);
  },
  async run(params, ctx) {
    const [osInfo, cpu, mem, load, disks, procs] = await Promise.all([
      si.osInfo(),
      si.cpu(),
      si.mem(),
      si.currentLoad(),
      si.fsSize(),
      si.processes(),
    ]);
    ctx.signal.throwIfAborted();
    const [avg1, avg5, avg15] = os.loadavg() as [number, number, number];
    const top = [...procs.list]
      .sort((a, b) => b.cpu - a.cpu || b.memRss - a.memRss)
      .slice(0, params.top)
      .map((p) => ({
        pid: p.pid,
        name: p.name,
        user: p.user ?? '',
        cpuPct: round(p.cpu),
        memPct: round(p.mem),
        rssBytes: (p.memRss ?? 0) * 1024,
        command: `${p.command ?? ''} ${p.params ?? ''}`.trim().slice(0, 200),
      }));
    return {
      hostname: os.hostname(),
      os: { platform: osInfo.platform, distro: osInfo.distro, release: osInfo.release, kernel: osInfo.kernel, arch: osInfo.arch },
      uptimeSec: Math.round(os.uptime()),
      cpu: { brand: `${cpu.manufacturer} ${cpu.brand}`.trim(), cores: cpu.cores, physicalCores: cpu.physicalCores, speedGHz: cpu.speed },
      load: { avg1: round(avg1, 2), avg5: round(avg5, 2), avg15: round(avg15, 2), currentPct: round(load.currentLoad) },
      memory: {
        totalBytes: mem.total,
        usedBytes: mem.active,
        availableBytes: mem.available,
        swapTotalBytes: mem.swaptotal,
        swapUsedBytes: mem.swapused,
      },
      disks: disks
        .filter((d) => !PSEUDO_FS.has(d.type))
        .map((d) => ({ mount: d.mount, fs: d.fs, type: d.type, sizeBytes: d.size, usedBytes: d.used, usePct: round(d.use ?? 0) })),
      topProcesses: top,
    };
  },
});
