/**
 * The Debian package of the agent, as an operator uses it: it builds, installs on this machine
 * (self-contained executable, unit, system user, directories with their owners and modes, example
 * config); inside real systemd the installed unit starts the agent as its unprivileged user, it
 * joins a hub with a token and serves ku-diag host; removing the package stops it cleanly.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, cli, principal, ROOT, startHub, waitFor, type HubCtx } from '../helpers/rig.js';
import { bootSystemd, requireSystemdRig, type SystemdInstance } from '../rig/systemd.js';

const enabled = requireSystemdRig();
let sd: SystemdInstance;
let h: HubCtx;
let debFile = '';
const NAME = `pkg-agent-${process.pid}`;
const sh = (cmd: string[], opts: { allowFail?: boolean } = {}) => {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd.join(' ')}: ${r.stdout}${r.stderr}`);
  return r;
};

/** Asynchronously, for commands that talk to the in-process hub (a sync spawn would block it). */
function shAsync(cmd: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (out += b.toString()));
    c.on('close', (code) => resolve({ code, out }));
  });
}

beforeAll(async () => {
  if (!enabled) return;
  sh(['dpkg', '--purge', 'ku-agent'], { allowFail: true }); // a leftover of an interrupted run
  execFileSync(process.execPath, [join(ROOT, 'scripts/package.mjs'), 'ku-agent', 'ku-hub'], { stdio: 'pipe', cwd: ROOT });
  debFile = join(ROOT, 'dist/pkg', readdirSync(join(ROOT, 'dist/pkg')).find((f) => /^ku-agent_.*\.deb$/.test(f))!);
  h = await startHub();
}, 300_000);

afterAll(async () => {
  if (!enabled) return;
  await cleanup();
  if (sd) await sd.down();
  sh(['dpkg', '--purge', 'ku-agent'], { allowFail: true });
  sh(['deluser', '--system', '--quiet', 'ku-agent'], { allowFail: true });
});

describe.runIf(enabled)('the ku-agent Debian package', () => {
  it('both packages build, self-contained, with their units and scripts', () => {
    for (const name of ['ku-agent', 'ku-hub']) {
      const deb = join(ROOT, 'dist/pkg', readdirSync(join(ROOT, 'dist/pkg')).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'))!);
      const info = sh(['dpkg-deb', '--info', deb]).stdout;
      expect(info).toMatch(new RegExp(`Package: ${name}`));
      expect(info).toMatch(/postinst/);
      expect(info).toMatch(/prerm/);
      expect(info).not.toMatch(/Depends:.*nodejs/); // carries its own runtime
      const files = sh(['dpkg-deb', '--contents', deb]).stdout;
      expect(files).toContain(`./usr/bin/${name}`);
      expect(files).toContain(`./lib/systemd/system/${name}.service`);
    }
  });

  it('installs the program, the hardened unit, a system user, and directories with the right owners and modes', () => {
    sh(['dpkg', '-i', debFile]);
    expect(sh(['/usr/bin/ku-agent', 'version']).stdout).toMatch(/^ku-agent \d/);
    const uid = Number(sh(['id', '-u', 'ku-agent']).stdout.trim());
    expect(uid).toBeGreaterThan(0);
    expect(sh(['id', '-nG', 'ku-agent']).stdout).toMatch(/systemd-journal/);
    const state = statSync('/var/lib/ku-agent');
    expect(state.uid).toBe(uid);
    expect(state.mode & 0o777).toBe(0o700);
    expect(statSync('/etc/ku/agent.json').isFile()).toBe(true);
    expect(sh(['dpkg', '-L', 'ku-agent']).stdout).toContain('/lib/systemd/system/ku-agent.service');
    // Self-contained: no node_modules and no Node.js needed.
    expect(sh(['ldd', '/usr/bin/ku-agent'], { allowFail: true }).stdout).not.toMatch(/libnode/);
  });

  it('joins a hub with a token, starts under systemd as its user, serves ku-diag host, and stops when removed', async () => {
    const { token } = h.state.createToken({ pkg: 'yes' }, 60_000);
    const joined = await shAsync(['runuser', '-u', 'ku-agent', '--', '/usr/bin/ku-agent', 'join', '--hub', h.addr, '--token', token, '--state', '/var/lib/ku-agent', '--name', NAME]);
    expect(joined.code, joined.out).toBe(0);
    sd = await bootSystemd({ isolateNetwork: false, units: {} });
    symlinkSync('/lib/systemd/system/ku-agent.service', join(sd.dir, 'units', 'ku-agent.service'));
    expect(sd.systemctl('daemon-reload').code).toBe(0);
    expect(sd.systemctl('enable', '--now', 'ku-agent.service').code).toBe(0);
    await waitFor(() => h.hub.registry.get(NAME) !== undefined, () => `the packaged agent to connect: ${sd.systemctl('status', 'ku-agent').stdout}`, 30_000);
    const show = sd.systemctl('show', 'ku-agent.service', '-p', 'MainPID', '-p', 'User').stdout;
    const pid = Number(/MainPID=(\d+)/.exec(show)![1]);
    const uid = sh(['id', '-u', 'ku-agent']).stdout.trim();
    expect(/^Uid:\s+(\d+)/m.exec(spawnSync('cat', [`/proc/${sd.pid1}/root/proc/${pid}/status`], { encoding: 'utf8' }).stdout)![1]).toBe(uid);
    const r = await cli('ku-diag', ['host', '--host', NAME, '--json'], { KU_HUB: h.addr, KU_IDENTITY: await principal(h) });
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ host: NAME, ok: true });
    // Remove the package where its scripts can reach this systemd: prerm stops the agent.
    const rm = spawnSync('nsenter', ['-t', String(sd.pid1), '-m', '-p', '--', 'dpkg', '-r', 'ku-agent'], { encoding: 'utf8' });
    expect(rm.status, rm.stderr).toBe(0);
    await waitFor(() => h.hub.registry.get(NAME) === undefined, 'the agent to stop with its package', 20_000);
    expect(sd.systemctl('is-active', 'ku-agent.service').stdout.trim()).not.toBe('active');
    expect(sh(['dpkg', '-s', 'ku-agent'], { allowFail: true }).stdout).not.toMatch(/Status: install ok installed/);
  });
});
