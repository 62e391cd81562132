/**
 * Real systemd as PID 1 in its own pid+mount+net namespaces, with D-Bus,
 * journald and polkit (shared/RIG.md §3), booted per test file and always
 * torn down. Root only. Units and polkit rules are the caller's.
 *
 *   node ─spawn─▶ bash (joins a private cgroup) ─exec─▶ unshare ─fork─▶ init.sh ─exec─▶ systemd (PID 1)
 *
 * Root can reach the instance from outside: the bus at /proc/PID1/root/run/dbus/system_bus_socket
 * and the journal at /proc/PID1/root/run/log/journal. Non-root processes must run inside with
 * `nsenterArgs` (mount+pid namespaces; the network stays the host's so they can reach a hub).
 */
import { requireRig } from './gate.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chmodSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

export interface SystemdOptions {
  /** unit file name → contents */
  units: Record<string, string>;
  /** polkit rules file name → contents (installed before boot) */
  polkitRules?: Record<string, string>;
  /**
   * Give the instance its own network namespace (only lo). Default true. Tests whose services
   * must reach a hub on the host's 127.0.0.1 pass false.
   */
  isolateNetwork?: boolean;
}

export interface SystemdInstance {
  pid1: number;
  dir: string;
  busAddress: string;
  journalDir: string;
  /** argv prefix that runs a command inside the instance's mount and pid namespaces */
  nsenterArgs: string[];
  /**
   * Make a host directory visible inside the instance at a fixed path under its private /run
   * (bind mount in the instance's mount namespace), so that its services and unprivileged
   * processes can read a checkout that lives where they could not (under /root, or under a
   * /tmp that PrivateTmp= hides). Returns the path inside.
   */
  expose(hostDir: string, name: string): string;
  /** run systemctl inside the instance */
  systemctl(...args: string[]): { code: number; stdout: string; stderr: string };
  down(): Promise<void>;
}

const CGROUP_ROOTS = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'];
const CGROUP_MAGIC = new Set([0x27e0eb, 0x63677270]); // cgroupfs (v1), cgroup2fs

function isCgroupFs(path: string): boolean {
  try {
    return CGROUP_MAGIC.has(statfsSync(path).type);
  } catch {
    return false;
  }
}

async function waitUntil(pred: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`systemd rig: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Why the rig cannot run here, or null. */
export function systemdRigUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the systemd rig needs root (unshare, cgroups, bind mounts)';
  for (const f of ['/lib/systemd/systemd', '/usr/bin/unshare', '/usr/bin/nsenter', '/usr/bin/dbus-daemon', '/usr/lib/polkit-1/polkitd']) {
    if (!existsSync(f)) return `missing ${f} (install systemd, dbus, util-linux, polkitd)`;
  }
  return null;
}

/** Boot an instance; resolves once `systemctl is-system-running --wait` returns. */
export async function bootSystemd(opts: SystemdOptions): Promise<SystemdInstance> {
  const why = systemdRigUnavailable();
  if (why) throw new Error(why);
  const dir = mkdtempSync('/tmp/kusd.');
  const units = join(dir, 'units');
  mkdirSync(units);
  for (const f of ['systemd-journald.service', 'systemd-journald.socket', 'dbus.service', 'dbus.socket', 'polkit.service']) symlinkSync(`/lib/systemd/system/${f}`, join(units, f));
  for (const t of ['sysinit', 'basic', 'sockets', 'shutdown', 'local-fs', 'timers', 'paths']) writeFileSync(join(units, `${t}.target`), `[Unit]\nDescription=ku stand-in ${t}\n`);
  writeFileSync(
    join(units, 'ku-test.target'),
    `[Unit]\nDescription=ku hermetic test target\nWants=systemd-journald.service dbus.socket dbus.service ${Object.keys(opts.units).join(' ')}\n`,
  );
  for (const [name, text] of Object.entries(opts.units)) writeFileSync(join(units, name), text);
  const rules = join(dir, 'polkit-rules');
  mkdirSync(rules);
  for (const [name, text] of Object.entries(opts.polkitRules ?? {})) writeFileSync(join(rules, name), text);
  const polkitd = spawnSync('id', ['-u', 'polkitd'], { encoding: 'utf8' });
  if (polkitd.status === 0) {
    const uid = Number(polkitd.stdout.trim());
    chownSync(rules, uid, 0);
    for (const f of readdirSync(rules)) chownSync(join(rules, f), uid, 0);
  }
  chmodSync(rules, 0o700);
  const cgroup = `kutest-${dir.split('.').pop()}`;
  writeFileSync(join(dir, 'cgroup'), cgroup);
  const roots = CGROUP_ROOTS.filter(isCgroupFs);
  for (const r of roots) mkdirSync(join(r, cgroup), { recursive: true });
  writeFileSync(
    join(dir, 'init.sh'),
    `#!/bin/bash
set -e
mount -t tmpfs -o mode=755,size=64m tmpfs /run
mkdir -p /run/systemd/journald.conf.d
printf '[Journal]\\nStorage=volatile\\nReadKMsg=no\\nRateLimitBurst=0\\n' > /run/systemd/journald.conf.d/ku.conf
${opts.isolateNetwork === false ? '' : 'ip link set lo up 2>/dev/null || true'}
mount --bind ${rules} /etc/polkit-1/rules.d
exec env -i container=kutest SYSTEMD_UNIT_PATH=${units} PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system --unit=ku-test.target
`,
  );
  chmodSync(join(dir, 'init.sh'), 0o755);
  const joinCg = roots.map((r) => `echo $$ > ${join(r, cgroup, 'cgroup.procs')}`).join('; ');
  const launcher: ChildProcess = spawn(
    'bash',
    ['-c', `${joinCg}; exec unshare --pid --fork --kill-child --mount --mount-proc --propagation private ${opts.isolateNetwork === false ? '' : '--net'} -- ${dir}/init.sh`],
    { stdio: ['ignore', 'ignore', 'ignore'], detached: false },
  );
  launcher.on('error', () => undefined);
  let pid1 = 0;
  await waitUntil(() => {
    try {
      const kids = readFileSync(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8').trim();
      pid1 = Number(kids.split(/\s+/)[0] || 0);
    } catch {
      pid1 = 0;
    }
    return pid1 > 0;
  }, 'the namespace PID 1', 5000);
  writeFileSync(join(dir, 'pid1'), String(pid1));
  const root = `/proc/${pid1}/root`;
  const nsenterArgs = ['nsenter', '-t', String(pid1), '-m', '-p', '--wd=/tmp', '--'];
  const inst: SystemdInstance = {
    pid1,
    dir,
    busAddress: `unix:path=${root}/run/dbus/system_bus_socket`,
    journalDir: `${root}/run/log/journal`,
    nsenterArgs,
    expose: (hostDir, name) => {
      const inside = `/run/ku-expose/${name}`;
      const r = spawnSync('nsenter', ['-t', String(pid1), '-m', '--', 'sh', '-c', 'mkdir -p "$1" && mount --bind "$2" "$1" && mount -o remount,bind,ro "$1"', 'sh', inside, hostDir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`systemd rig: cannot expose ${hostDir}: ${r.stderr}`);
      return inside;
    },
    systemctl: (...args) => {
      const r = spawnSync('nsenter', ['-t', String(pid1), '-m', '-p', '--', 'systemctl', '--no-pager', ...args], { encoding: 'utf8', timeout: 30_000 });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    down: async () => {
      let ns: string;
      try {
        ns = readlinkSync(`/proc/${pid1}/ns/pid`);
      } catch {
        ns = '';
      }
      try {
        process.kill(pid1, 'SIGKILL');
      } catch {
        /* already gone */
      }
      const inNs = (): string[] =>
        readdirSync('/proc').filter((p) => {
          if (!/^\d+$/.test(p)) return false;
          try {
            return readlinkSync(`/proc/${p}/ns/pid`) === ns;
          } catch {
            return false;
          }
        });
      if (ns) await waitUntil(() => inNs().length === 0, 'the namespace to empty', 10_000);
      for (const r of roots) {
        const d = join(r, cgroup);
        const rmTree = (p: string): void => {
          if (!existsSync(p)) return;
          for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(p, e.name));
          try {
            rmSync(p, { recursive: false, force: true });
          } catch {
            spawnSync('rmdir', [p]);
          }
        };
        rmTree(d);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitUntil(() => existsSync(`${root}/run/systemd/private`), 'systemd to start', 10_000);
  const up = spawnSync('nsenter', ['-t', String(pid1), '-m', '-p', '--', 'systemctl', 'is-system-running', '--wait'], { encoding: 'utf8', timeout: 30_000 });
  if (!['running', 'degraded'].includes(up.stdout.trim())) {
    const console = existsSync(join(dir, 'console.log')) ? readFileSync(join(dir, 'console.log'), 'utf8') : '';
    await inst.down();
    throw new Error(`systemd rig: system state ${JSON.stringify(up.stdout.trim())} ${up.stderr} ${console}`);
  }
  await waitUntil(() => existsSync(`${root}/run/dbus/system_bus_socket`), 'the system bus', 10_000);
  // A real boot runs systemd-tmpfiles-setup, which gives the journal to the systemd-journal group
  // (so members such as the ku agent's user can read it); the stand-in sysinit does not, so do it here.
  spawnSync('nsenter', ['-t', String(pid1), '-m', '-p', '--', 'systemd-tmpfiles', '--create', '--prefix=/run/log/journal'], { timeout: 30_000 });
  return inst;
}

/** True when the rig can run (see gate.ts). */
export function requireSystemdRig(env: NodeJS.ProcessEnv = process.env): boolean {
  return requireRig('systemd', systemdRigUnavailable(), env);
}
