/**
 * The shipped, hardened deploy/systemd/ku-agent.service, started by real
 * systemd: the agent runs unprivileged under every restriction of the unit and
 * still connects to the hub, reads units and the journal, and restarts the
 * unit its polkit rule grants.
 */
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinHub } from '../../agent/join.js';
import { cleanup, cli, control, identityCreds, principal, results, ROOT, run, runReq, startHub, waitFor, type ControlStub, type HubCtx } from '../helpers/rig.js';
import { bootSystemd, requireSystemdRig, type SystemdInstance } from '../rig/systemd.js';

const enabled = requireSystemdRig();
const NAME = `unit-agent-${process.pid}`;
const STATE_NAME = `ku-agent-test-${process.pid}`;
const STATE = `/var/lib/${STATE_NAME}`;
const CONFIG = { ops: { 'sys.status': {}, 'journal.query': {}, 'diag.host': {}, 'sys.restart': { units: ['ku-demo.service'] } } };

let sd: SystemdInstance;
let h: HubCtx;
let c: ControlStub;

/** The shipped unit with only what differs on a test machine replaced: user, paths, state name. */
function testUnit(hub: string, src: string): string {
  const shipped = readFileSync(join(ROOT, 'deploy/systemd/ku-agent.service'), 'utf8');
  return shipped
    .replace(/^User=ku-agent$/m, 'User=nobody')
    .replace(/^Group=ku-agent$/m, 'Group=nogroup')
    .replace(/^StateDirectory=ku-agent$/m, `StateDirectory=${STATE_NAME}`)
    .replace(/^ConfigurationDirectory=ku$/m, '')
    .replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${join(src, 'dist/agent/main.js')} start --state ${STATE} --config ${STATE}/agent.json --hub ${hub}`)
    .replace(/^WantedBy=.*$/m, 'WantedBy=ku-test.target')
    ;
}

beforeAll(async () => {
  if (!enabled) return;
  h = await startHub();
  const { token } = h.state.createToken({ env: 'unit' }, 60_000);
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  await joinHub({ hub: h.addr, token, stateDir: STATE, name: NAME });
  writeFileSync(join(STATE, 'agent.json'), JSON.stringify(CONFIG));
  for (const f of [STATE, ...readdirSync(STATE).map((x) => join(STATE, x))]) chownSync(f, 65534, 65534);
  const cfgFile = join(STATE, 'agent.json');
  const rule = await cli('ku-agent', ['polkit-rule', '--config', cfgFile, '--user', 'nobody']);
  expect(rule.code).toBe(0);
  sd = await bootSystemd({
    isolateNetwork: false,
    polkitRules: { '60-ku-agent.rules': rule.stdout },
    units: {
      'ku-demo.service': `[Service]\nExecStart=/bin/sh -c 'while :; do echo "<3>demo error"; sleep 5; done'\n`,
      'ku-other.service': `[Service]\nExecStart=/bin/sleep infinity\n`,
    },
  });
  // The checkout may live where the unit cannot see it (/root, or /tmp behind PrivateTmp=);
  // a real install lives in /usr. Expose it read-only under the instance's /run.
  const unit = testUnit(h.addr, sd.expose(ROOT, 'src'));
  expect(unit).toContain('ProtectSystem=strict'); // the hardening is the shipped one
  writeFileSync(join(sd.dir, 'units', 'ku-agent.service'), unit);
  expect(sd.systemctl('daemon-reload').code).toBe(0);
  expect(sd.systemctl('start', 'ku-agent.service').code).toBe(0);
  c = control(h, identityCreds(await principal(h)));
  await waitFor(() => h.hub.registry.get(NAME) !== undefined, () => `the unit's agent to connect: ${sd.systemctl('status', 'ku-agent.service').stdout}`, 30_000);
}, 120_000);

afterAll(async () => {
  await cleanup();
  if (sd) await sd.down();
  rmSync(STATE, { recursive: true, force: true });
});

async function op(name: string, params: unknown) {
  const r = await run(c, runReq(name, params, { hosts: [NAME] })).done;
  expect(r.error).toBeNull();
  return results(r.events)[0]!;
}

describe.runIf(enabled)('deploy/systemd/ku-agent.service under real systemd', () => {
  it('runs the agent as the unprivileged user with the unit\'s restrictions', () => {
    const show = sd.systemctl('show', 'ku-agent.service', '-p', 'ActiveState', '-p', 'MainPID', '-p', 'User', '-p', 'NoNewPrivileges', '-p', 'ProtectSystem').stdout;
    expect(show).toMatch(/ActiveState=active/);
    expect(show).toMatch(/NoNewPrivileges=yes/);
    expect(show).toMatch(/ProtectSystem=strict/);
    const pid = Number(/MainPID=(\d+)/.exec(show)![1]);
    const status = readFileSync(`/proc/${sd.pid1}/root/proc/${pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe('65534');
    expect(/^NoNewPrivs:\s+1$/m.test(status)).toBe(true);
    expect(/^CapEff:\s+0+$/m.test(status)).toBe(true);
  });

  it('reads host facts, unit status and the journal, and restarts exactly what polkit grants', async () => {
    expect((await op('diag.host', { top: 3 })).ok).toBe(true);
    const st = await op('sys.status', { unit: 'ku-demo' });
    const before = JSON.parse(st.data_json).mainPid;
    expect(before).toBeGreaterThan(1);
    const j = await op('journal.query', { unit: 'ku-demo', priority: 'err', lines: 1 });
    expect(JSON.parse(j.data_json).entries[0]?.message).toBe('demo error');
    const r = await op('sys.restart', { unit: 'ku-demo' });
    expect(r.error ?? null).toBeNull();
    expect(JSON.parse(r.data_json).after.mainPid).not.toBe(before);
  });
});
