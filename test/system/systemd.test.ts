/**
 * ku-sys and ku-diag against real systemd (PID 1 in its own namespaces, with
 * D-Bus, journald and polkit), through hub and agents over mTLS.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../hub/audit.js';
import { HUB_FILES } from '../../hub/state.js';
import type { RunEvent } from '../../proto/wire.js';
import { cleanup, cli, control, identityCreds, principal, results, ROOT, run, runReq, startAgent, startHub, tmp, waitFor, type AgentCtx, type ControlStub, type HubCtx } from '../helpers/rig.js';
import { bootSystemd, requireSystemdRig, type SystemdInstance } from '../rig/systemd.js';

const enabled = requireSystemdRig();

const UNITS: Record<string, string> = {
  'ku-demo.service': `[Unit]\nDescription=ku demo (healthy)\n[Service]\nExecStart=/bin/sh -c 'while :; do echo "demo tick"; echo "<3>ku-demo: simulated error"; sleep 5; done'\n`,
  'ku-fail.service': `[Unit]\nDescription=ku fail (fails on start)\n[Service]\nType=exec\nExecStart=/bin/sh -c 'echo about to fail >&2; exit 42'\n`,
  'ku-logerr.service': `[Unit]\nDescription=ku logerr (logs at error priority)\n[Service]\nExecStart=/bin/sh -c 'i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo "<3>ku-logerr: db connection failed attempt=$i"; done; echo "<6>ku-logerr: giving up for now"; exec sleep infinity'\n`,
  'ku-denied.service': `[Unit]\nDescription=ku denied (not in the allowlist)\n[Service]\nExecStart=/bin/sleep infinity\n`,
  'ku-budget.service': `[Unit]\nDescription=ku budget (restart budget)\n[Service]\nExecStart=/bin/sleep infinity\n`,
};

const RESTARTABLE = ['ku-demo.service', 'ku-fail', 'ku-budget.service'];

let sd: SystemdInstance;
let h: HubCtx;
let agent: AgentCtx;
let tiny: AgentCtx;
let c: ControlStub;
let journalGid = 0;
let nobodyAgent: (ChildProcess & { out: () => string }) | null = null;
const NOBODY_NAME = 'unprivileged';

function hostOps(extra: Record<string, object> = {}): Record<string, object> {
  return {
    'sys.status': {},
    'sys.failed': {},
    'diag.service': {},
    'journal.query': {},
    'sys.restart': { units: RESTARTABLE, budget: { max: 2, windowMinutes: 10 }, settleMs: 1000 },
    ...extra,
  };
}

/** Config for the unprivileged agent: it allows more than the polkit rule grants, on purpose. */
const NOBODY_CONFIG = { ops: { 'sys.status': {}, 'journal.query': {}, 'sys.restart': { units: ['ku-demo.service', 'ku-logerr.service'] } } };
/** The allowlist the polkit rule is generated from: ku-demo only. */
const POLKIT_CONFIG = { ops: { 'sys.restart': { units: ['ku-demo.service'] } } };

async function op(target: string, name: string, params: unknown) {
  const r = await run(c, runReq(name, params, { hosts: [target] })).done;
  expect(r.error).toBeNull();
  return { result: results(r.events)[0]!, events: r.events };
}

const data = (res: { ok: boolean; data_json: string; error?: unknown }) => {
  if (!res.ok) throw new Error(`op failed: ${JSON.stringify(res.error)}`);
  return JSON.parse(res.data_json);
};

beforeAll(async () => {
  if (!enabled) return;
  const dir = tmp('ku-sys-');
  const polkitCfg = join(dir, 'polkit-config.json');
  writeFileSync(polkitCfg, JSON.stringify(POLKIT_CONFIG));
  const rule = await cli('ku-agent', ['polkit-rule', '--config', polkitCfg, '--user', 'nobody']);
  expect(rule.code).toBe(0);
  sd = await bootSystemd({ units: UNITS, polkitRules: { '60-ku-agent.rules': rule.stdout } });
  h = await startHub();
  const host = { systemd: { busAddress: sd.busAddress, journalDirectory: sd.journalDir } };
  agent = await startAgent(h, { ops: hostOps(), host });
  tiny = await startAgent(h, { ops: { 'journal.query': { maxLines: 1000, maxBytes: 2048 } }, host });
  c = control(h, identityCreds(await principal(h)));
  journalGid = Number(spawnSync('getent', ['group', 'systemd-journal'], { encoding: 'utf8' }).stdout.split(':')[2]);
  // ku-logerr writes its burst at start; wait until journald has it.
  await waitFor(async () => {
    const { result } = await op(agent.name, 'journal.query', { unit: 'ku-logerr', lines: 100 });
    return data(result).count >= 61;
  }, 'ku-logerr to log its burst');
}, 120_000);

afterAll(async () => {
  if (nobodyAgent && nobodyAgent.exitCode === null) nobodyAgent.kill('SIGKILL');
  await cleanup();
  if (sd) await sd.down();
});

describe.runIf(enabled)('sys.status over D-Bus', () => {
  it('reports the state of each unit, including the failed one, and resolves names', async () => {
    const demo = data((await op(agent.name, 'sys.status', { unit: 'ku-demo' })).result);
    expect(demo).toMatchObject({ unit: 'ku-demo.service', description: 'ku demo (healthy)', loadState: 'loaded', activeState: 'active', subState: 'running', result: 'success' });
    expect(demo.mainPid).toBeGreaterThan(1);
    expect(Date.parse(demo.since)).toBeGreaterThan(Date.now() - 600_000);
    expect(demo.unitFileState).toBe('static');
    const fail = data((await op(agent.name, 'sys.status', { unit: 'ku-fail.service' })).result);
    expect(fail).toMatchObject({ unit: 'ku-fail.service', activeState: 'failed', subState: 'failed', result: 'exit-code', mainPid: null, execMainStatus: 42 });
    const logerr = data((await op(agent.name, 'sys.status', { unit: 'ku-logerr' })).result);
    expect(logerr).toMatchObject({ activeState: 'active', subState: 'running' });
    const denied = data((await op(agent.name, 'sys.status', { unit: 'ku-denied' })).result);
    expect(denied).toMatchObject({ activeState: 'active' });
    const missing = (await op(agent.name, 'sys.status', { unit: 'no-such-unit' })).result;
    expect(missing.error?.code).toBe('KU_ERR_UNIT_NOT_FOUND');
  });

  it('the brief\'s spellings work verbatim with one agent: ku-sys service-status, ku-diag service-status --name, ku-diag journal --priority err', async () => {
    const solo = await startHub();
    await startAgent(solo, { ops: hostOps(), host: { systemd: { busAddress: sd.busAddress, journalDirectory: sd.journalDir } } });
    const env = { KU_IDENTITY: await principal(solo), KU_HUB: solo.addr };
    const st = await cli('ku-sys', ['service-status', 'ku-demo'], env);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).data).toMatchObject({ unit: 'ku-demo.service', activeState: 'active' });
    const ds = await cli('ku-diag', ['service-status', '--name', 'ku-logerr'], env);
    expect(ds.code).toBe(0);
    const dsData = JSON.parse(ds.stdout).data;
    expect(dsData.status.unit).toBe('ku-logerr.service');
    expect(dsData.errors.length).toBe(10);
    expect(dsData.errors.every((e: { priority: number; message: string }) => e.priority <= 3 && e.message.includes('db connection failed'))).toBe(true);
    const jr = await cli('ku-diag', ['journal', '--priority', 'err'], env);
    expect(jr.code).toBe(0);
    const lines = jr.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const result = lines.find((l) => l.ok !== undefined);
    expect(result.data.entries.length).toBeGreaterThan(0);
    expect(result.data.entries.every((e: { priority: number }) => e.priority <= 3)).toBe(true);
    const rs = await cli('ku-sys', ['restart-service', 'ku-budget', '--dry-run'], env);
    expect(rs.code).toBe(0);
    expect(JSON.parse(rs.stdout).data).toMatchObject({ unit: 'ku-budget.service', dryRun: true, allowed: true });
  });
});

describe.runIf(enabled)('sys.restart', () => {
  it('restarts an allowed unit: new main PID, status after and what changed', async () => {
    const before = data((await op(agent.name, 'sys.status', { unit: 'ku-demo' })).result);
    const { result, events } = await op(agent.name, 'sys.restart', { unit: 'ku-demo' });
    expect(result.error ?? null).toBeNull();
    const r = data(result);
    expect(r).toMatchObject({ unit: 'ku-demo.service', dryRun: false, allowed: true, jobResult: 'done' });
    expect(r.before.mainPid).toBe(before.mainPid);
    expect(r.after.mainPid).not.toBe(before.mainPid);
    expect(r.after.activeState).toBe('active');
    expect(r.changed.mainPid).toEqual({ from: before.mainPid, to: r.after.mainPid });
    expect(events.some((e: RunEvent) => e.kind === 'progress')).toBe(true);
    const now = data((await op(agent.name, 'sys.status', { unit: 'ku-demo' })).result);
    expect(now.mainPid).toBe(r.after.mainPid);
  });

  it('dry run reports without restarting', async () => {
    const before = data((await op(agent.name, 'sys.status', { unit: 'ku-demo' })).result);
    const dry = data((await op(agent.name, 'sys.restart', { unit: 'ku-demo', dryRun: true })).result);
    expect(dry).toMatchObject({ dryRun: true, allowed: true, after: null, jobResult: null });
    expect(dry.before.mainPid).toBe(before.mainPid);
    expect(dry.budgetLeft).toBe(1);
    const deniedDry = data((await op(agent.name, 'sys.restart', { unit: 'ku-denied', dryRun: true })).result);
    expect(deniedDry.allowed).toBe(false);
    const after = data((await op(agent.name, 'sys.status', { unit: 'ku-demo' })).result);
    expect(after.mainPid).toBe(before.mainPid);
  });

  it('refuses a unit outside the allowlist in the agent, and nothing changes', async () => {
    const before = data((await op(agent.name, 'sys.status', { unit: 'ku-denied' })).result);
    const { result } = await op(agent.name, 'sys.restart', { unit: 'ku-denied' });
    expect(result.error?.code).toBe('KU_ERR_UNIT_NOT_ALLOWED');
    const after = data((await op(agent.name, 'sys.status', { unit: 'ku-denied' })).result);
    expect(after.mainPid).toBe(before.mainPid);
    // Refused by the agent itself: the hub had dispatched it (intent recorded), the agent said no.
    const recs = readAudit(join(h.dir, HUB_FILES.audit)).filter((x) => x.op === 'sys.restart' && x.target === agent.name && x.kind === 'outcome');
    expect(recs.at(-1)?.code).toBe('KU_ERR_UNIT_NOT_ALLOWED');
  });

  it('the restart budget trips with its own error code and stops the restart', async () => {
    for (let i = 0; i < 2; i++) expect((await op(agent.name, 'sys.restart', { unit: 'ku-budget' })).result.ok).toBe(true);
    const pid = data((await op(agent.name, 'sys.status', { unit: 'ku-budget' })).result).mainPid;
    const third = (await op(agent.name, 'sys.restart', { unit: 'ku-budget' })).result;
    expect(third.error?.code).toBe('KU_ERR_RESTART_BUDGET_EXCEEDED');
    expect(third.error?.retryable).toBe(true);
    expect(JSON.parse(third.error!.details_json).retryAt).toBeDefined();
    expect(data((await op(agent.name, 'sys.status', { unit: 'ku-budget' })).result).mainPid).toBe(pid);
  });

  it('a unit that fails after restart returns the failure with the journal lines that explain it', async () => {
    const { result } = await op(agent.name, 'sys.restart', { unit: 'ku-fail' });
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('KU_ERR_UNIT_FAILED');
    const details = JSON.parse(result.error!.details_json);
    expect(details.after).toMatchObject({ activeState: 'failed', result: 'exit-code', execMainStatus: 42 });
    const messages = details.journal.map((e: { message: string }) => e.message).join('\n');
    expect(messages).toContain('about to fail');
  });
});

describe.runIf(enabled)('sys.failed and journal.query', () => {
  it('sys.failed lists failed units with their result and last lines', async () => {
    const units = data((await op(agent.name, 'sys.failed', { lines: 5 })).result).units;
    const fail = units.find((u: { unit: string }) => u.unit === 'ku-fail.service');
    expect(fail).toMatchObject({ activeState: 'failed', result: 'exit-code' });
    expect(fail.lastLines.length).toBeGreaterThan(0);
    expect(units.find((u: { unit: string }) => u.unit === 'ku-demo.service')).toBeUndefined();
  });

  it('queries by unit and priority, names and numbers alike, with fixed-string match', async () => {
    const err = data((await op(agent.name, 'journal.query', { unit: 'ku-demo', priority: 'err', lines: 50 })).result);
    expect(err.count).toBeGreaterThan(0);
    expect(err.entries.every((e: { priority: number; unit: string; message: string }) => e.priority === 3 && e.unit === 'ku-demo.service' && e.message === 'ku-demo: simulated error')).toBe(true);
    const num = data((await op(agent.name, 'journal.query', { unit: 'ku-demo', priority: '3', lines: 50 })).result);
    expect(num.entries.map((e: { message: string }) => e.message)).toEqual(err.entries.slice(0, num.count).map((e: { message: string }) => e.message));
    const all = data((await op(agent.name, 'journal.query', { unit: 'ku-demo', lines: 200, since: '1h' })).result);
    expect(all.entries.some((e: { message: string }) => e.message === 'demo tick')).toBe(true);
    const m = data((await op(agent.name, 'journal.query', { unit: 'ku-logerr', match: 'attempt=7', lines: 100 })).result);
    expect(m.entries.map((e: { message: string }) => e.message)).toEqual(['ku-logerr: db connection failed attempt=7']);
    expect(m.entries[0].pid).toBeGreaterThan(0);
    const future = data((await op(agent.name, 'journal.query', { unit: 'ku-logerr', since: '2999-01-01', lines: 10 })).result);
    expect(future.count).toBe(0);
  });

  it('streams entries in chunks and caps lines and bytes with a truncated marker', async () => {
    const streamed = await op(agent.name, 'journal.query', { unit: 'ku-logerr', priority: 'err', lines: 1000 });
    const chunked = streamed.events.filter((e: RunEvent) => e.kind === 'chunk').flatMap((e: RunEvent) => JSON.parse(e.chunk!.json).entries);
    const full = data(streamed.result);
    expect(full.count).toBe(60);
    expect(full.truncated).toBeNull();
    expect(chunked.length).toBe(full.count);
    const capped = data((await op(agent.name, 'journal.query', { unit: 'ku-logerr', priority: 'err', lines: 5 })).result);
    expect(capped.count).toBe(5);
    expect(capped.truncated).toEqual({ reason: 'lines', limit: 5 });
    expect(capped.entries[0].message).toBe('ku-logerr: db connection failed attempt=60'); // newest first
    const bytes = data((await op(tiny.name, 'journal.query', { unit: 'ku-logerr', lines: 1000 })).result);
    expect(bytes.truncated).toEqual({ reason: 'bytes', limit: 2048 });
    expect(bytes.count).toBeGreaterThan(0);
    expect(bytes.count).toBeLessThan(61);
  });

  it('refuses bad unit names before anything is sent: CLI exit 2, hub KU_ERR_INVALID_PARAMS, no intent audited', async () => {
    const bad = ['../x', 'a;b', 'x'.repeat(300), '', 'ngin\u0445', 'nginx\u200b', '$(reboot)', '-H', 'a b', 'a/b', '.hidden'];
    const before = readAudit(join(h.dir, HUB_FILES.audit)).filter((x) => x.kind === 'intent').length;
    for (const unit of bad) {
      for (const [name, params] of [
        ['sys.status', { unit }],
        ['sys.restart', { unit }],
        ['journal.query', { unit }],
        ['diag.service', { name: unit }],
      ] as const) {
        const r = await run(c, runReq(name, params, { hosts: [agent.name] })).done;
        expect(r.error?.code, `${name} ${JSON.stringify(unit)}`).toBe('KU_ERR_INVALID_PARAMS');
      }
    }
    expect(readAudit(join(h.dir, HUB_FILES.audit)).filter((x) => x.kind === 'intent').length).toBe(before);
    const id = await principal(h);
    const r = await cli('ku-sys', ['restart-service', 'a;b', '--json', '--host', agent.name], { KU_IDENTITY: id });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.message).toMatch(/unit names may contain only/);
  });
});

describe.runIf(enabled)('the OS layer: an unprivileged agent and the generated polkit rule', () => {
  it('restarts the unit the rule grants and is refused by systemd for any other, even if its own allowlist is wider', async () => {
    const dir = tmp('ku-nobody-');
    const a = await startAgent(h, { name: NOBODY_NAME, start: false });
    const cfg = join(dir, 'agent.json');
    writeFileSync(cfg, JSON.stringify(NOBODY_CONFIG));
    for (const p of [dir, a.dir, ...readdirSync(a.dir).map((f) => join(a.dir, f))]) chownSync(p, 65534, 65534);
    chmodSync(dirname(a.dir), 0o755); // the temp parent: traversable by the agent's user
    // The checkout may be unreadable for nobody where it lives (/root); expose it under the instance's /run.
    const main = join(sd.expose(ROOT, 'src'), 'dist/agent/main.js');
    expect(statSync(a.dir).uid).toBe(65534);
    await a.agent.close();
    const child = spawn(
      sd.nsenterArgs[0]!,
      [...sd.nsenterArgs.slice(1), 'setpriv', '--reuid=65534', '--regid=65534', `--groups=${journalGid}`, '--inh-caps=-all', process.execPath, main, 'start', '--state', a.dir, '--config', cfg, '--hub', h.addr],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', HOME: '/tmp' } },
    );
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    nobodyAgent = Object.assign(child, { out: () => out });
    await waitFor(() => h.hub.registry.get(NOBODY_NAME) !== undefined, () => `unprivileged agent to connect (exit ${child.exitCode}, log: ${out})`, 20_000);

    // It is really unprivileged: nsenter's child is the agent (setpriv exec'd node).
    const kid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    const status = readFileSync(`/proc/${kid}/status`, 'utf8');
    expect(readFileSync(`/proc/${kid}/cmdline`, 'utf8')).toContain('agent/main.js');
    expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1)).toEqual(['65534', '65534']);
    expect(/^CapEff:\s+0+$/m.test(status)).toBe(true);

    const before = data((await op(NOBODY_NAME, 'sys.status', { unit: 'ku-demo' })).result);
    const ok = (await op(NOBODY_NAME, 'sys.restart', { unit: 'ku-demo' })).result;
    expect(ok.error ?? null).toBeNull();
    expect(data(ok).after.mainPid).not.toBe(before.mainPid);

    const logerrBefore = data((await op(NOBODY_NAME, 'sys.status', { unit: 'ku-logerr' })).result);
    const refused = (await op(NOBODY_NAME, 'sys.restart', { unit: 'ku-logerr' })).result;
    expect(refused.error?.code).toBe('KU_ERR_SYSTEMD_DENIED');
    expect(data((await op(NOBODY_NAME, 'sys.status', { unit: 'ku-logerr' })).result).mainPid).toBe(logerrBefore.mainPid);

    // The journal is readable through the systemd-journal group.
    const j = data((await op(NOBODY_NAME, 'journal.query', { unit: 'ku-logerr', priority: 'err', lines: 3 })).result);
    expect(j.count).toBe(3);
  });
});
