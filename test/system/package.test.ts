/**
 * The Debian packages, as an operator uses them (README, "Installing on servers"). The agent's: it
 * builds, installs on this machine (self-contained executable, unit, system user, directories with
 * their owners and modes, example config); inside real systemd the installed unit starts the agent
 * as its unprivileged user, it joins a hub with a token and serves ku-diag host; removing the
 * package stops it cleanly. The hub's: installed, initialized as its user, started by its unit
 * under real systemd; root's admin commands (token, principal, revoke) on its state directory keep
 * that state usable by the hub; an agent joins, serves, is revoked; removing the package stops it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync, symlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, cli, principal, ROOT, startHub, tmp, waitFor, type HubCtx } from '../helpers/rig.js';
import { bootSystemd, requireSystemdRig, type SystemdInstance } from '../rig/systemd.js';

const enabled = requireSystemdRig();
let sd: SystemdInstance;
let hubSd: SystemdInstance | undefined;
const children: ChildProcess[] = [];
let h: HubCtx;
let debFile = '';
const NAME = `pkg-agent-${process.pid}`;
const sh = (cmd: string[], opts: { allowFail?: boolean } = {}) => {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd.join(' ')}: ${r.stdout}${r.stderr}`);
  return r;
};

/** Asynchronously, for commands that talk to the in-process hub (a sync spawn would block it). */
function shAsync(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let stdout = '';
    c.stdout.on('data', (b: Buffer) => ((out += b.toString()), (stdout += b.toString())));
    c.stderr.on('data', (b: Buffer) => (out += b.toString()));
    c.on('close', (code) => resolve({ code, out, stdout }));
  });
}

beforeAll(async () => {
  if (!enabled) return;
  sh(['dpkg', '--purge', 'ku-agent', 'ku-hub', 'ku'], { allowFail: true }); // leftovers of an interrupted run
  execFileSync(process.execPath, [join(ROOT, 'scripts/package.mjs'), 'ku-agent', 'ku-hub', 'ku'], { stdio: 'pipe', cwd: ROOT });
  debFile = join(ROOT, 'dist/pkg', readdirSync(join(ROOT, 'dist/pkg')).find((f) => /^ku-agent_.*\.deb$/.test(f))!);
  h = await startHub();
}, 300_000);

afterAll(async () => {
  if (!enabled) return;
  await cleanup();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (sd) await sd.down();
  if (hubSd) await hubSd.down();
  sh(['dpkg', '--purge', 'ku-agent', 'ku-hub', 'ku'], { allowFail: true });
  sh(['deluser', '--system', '--quiet', 'ku-agent'], { allowFail: true });
  sh(['deluser', '--system', '--quiet', 'ku-hub'], { allowFail: true });
});

describe.runIf(enabled)('the ku-agent Debian package', () => {
  it('the packages build, self-contained, with their units and scripts', () => {
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
    // The CLIs: one executable, ku, that the op commands are links to; no unit, no user.
    const cliDeb = join(ROOT, 'dist/pkg', readdirSync(join(ROOT, 'dist/pkg')).find((f) => /^ku_.*\.deb$/.test(f))!);
    const files = sh(['dpkg-deb', '--contents', cliDeb]).stdout;
    expect(files).toMatch(/\.\/usr\/bin\/ku\n/);
    for (const bin of ['ku-diag', 'ku-sys', 'ku-pg', 'ku-slurm', 'ku-k8s']) expect(files).toContain(`./usr/bin/${bin} -> ku`);
    expect(sh(['dpkg-deb', '--info', cliDeb]).stdout).not.toMatch(/Depends:/);
    // It runs without the checkout's node_modules.
    const ku = spawnSync(join(ROOT, 'dist/pkg/ku'), ['ops', '--json'], { encoding: 'utf8', cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    expect(ku.status, ku.stderr).toBe(0);
    expect(ku.stdout.trim().split('\n').map((l) => JSON.parse(l).op)).toContain('pg.apply-index');
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

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });

describe.runIf(enabled)('the ku-hub Debian package', () => {
  it('inits as its user, serves under systemd, stays usable after root admin commands, and stops when removed', async () => {
    const deb = join(ROOT, 'dist/pkg', readdirSync(join(ROOT, 'dist/pkg')).find((f) => /^ku-hub_.*\.deb$/.test(f))!);
    sh(['dpkg', '-i', deb]);
    expect(sh(['/usr/bin/ku-hub', 'version']).stdout).toMatch(/^ku-hub \d/);
    const uid = Number(sh(['id', '-u', 'ku-hub']).stdout.trim());
    expect(statSync('/var/lib/ku-hub').uid).toBe(uid);
    expect(statSync('/var/lib/ku-hub').mode & 0o777).toBe(0o700);
    const port = await freePort();
    const addr = `127.0.0.1:${port}`;
    sh(['runuser', '-u', 'ku-hub', '--', '/usr/bin/ku-hub', 'init', '--state', '/var/lib/ku-hub', '--listen', addr]);
    hubSd = await bootSystemd({ isolateNetwork: false, units: {} });
    const hsd = hubSd;
    symlinkSync('/lib/systemd/system/ku-hub.service', join(hsd.dir, 'units', 'ku-hub.service'));
    expect(hsd.systemctl('daemon-reload').code).toBe(0);
    expect(hsd.systemctl('enable', '--now', 'ku-hub.service').code).toBe(0);
    await waitFor(() => listening(port), () => `the packaged hub to listen: ${hsd.systemctl('status', 'ku-hub').stdout}`, 30_000);

    // The admin commands as root, as the README gives them: what they write stays the hub's.
    const tok = await shAsync(['/usr/bin/ku-hub', 'token', 'create', '--state', '/var/lib/ku-hub', '--labels', 'pkg=hub', '--ttl', '5m', '--json']);
    expect(tok.code, tok.out).toBe(0);
    const { token } = JSON.parse(tok.out) as { token: string };
    for (const f of readdirSync('/var/lib/ku-hub/tokens')) expect(statSync(join('/var/lib/ku-hub/tokens', f)).uid).toBe(uid);
    const name = `pkg-hub-agent-${process.pid}`;
    const agentDir = tmp();
    const joined = await cli('ku-agent', ['join', '--hub', addr, '--token', token, '--state', agentDir, '--name', name]);
    expect(joined.code, joined.stdout + joined.stderr).toBe(0);
    const agent = spawn(process.execPath, [join(ROOT, 'dist/agent/main.js'), 'start', '--state', agentDir], { stdio: 'ignore' });
    children.push(agent);
    const id = join(tmp(), 'alice');
    const added = await shAsync(['/usr/bin/ku-hub', 'principal', 'add', `alice-${process.pid}`, '--role', 'admin', '--out', id, '--state', '/var/lib/ku-hub']);
    expect(added.code, added.out).toBe(0);
    // The installed CLIs (the ku package: ku-diag is a link to ku), with only the identity set:
    // principal add wrote the hub's address into it.
    sh(['dpkg', '-i', join(ROOT, 'dist/pkg', readdirSync(join(ROOT, 'dist/pkg')).find((f) => /^ku_.*\.deb$/.test(f))!)]);
    const env = { KU_IDENTITY: id, KU_HUB: '' };
    await waitFor(async () => (await shAsync(['/usr/bin/ku', 'agents', '--json'], env)).out.includes(`"name":"${name}"`), 'the agent to connect to the packaged hub', 20_000);
    const r = await shAsync(['/usr/bin/ku-diag', 'host', '--host', name, '--json'], env);
    expect(r.code, r.out).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ host: name, ok: true, op: 'diag.host' });
    const denied = await shAsync(['/usr/bin/ku-sys', 'service-status', 'a;b', '--host', name, '--json'], env);
    expect(denied.code, denied.out).toBe(2); // validated by the installed CLI before sending

    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    const revoked = await shAsync(['/usr/bin/ku-hub', 'revoke', 'agent', name, '--state', '/var/lib/ku-hub']);
    expect(revoked.code, revoked.out).toBe(0);
    expect(await exited).toBe(3); // the hub applied root's revocation at once
    const verify = sh(['/usr/bin/ku-hub', 'audit', 'verify', '--state', '/var/lib/ku-hub']);
    expect(verify.stdout).toMatch(/audit log ok: [1-9]\d* records/); // join, calls and the revocation

    const rm = spawnSync('nsenter', ['-t', String(hsd.pid1), '-m', '-p', '--', 'dpkg', '-r', 'ku-hub'], { encoding: 'utf8' });
    expect(rm.status, rm.stderr).toBe(0);
    await waitFor(async () => !(await listening(port)), 'the hub to stop with its package', 20_000);
    expect(hsd.systemctl('is-active', 'ku-hub.service').stdout.trim()).not.toBe('active');
  });
});
