/**
 * Logic of the systemd ops with a fake bus and a fake executor (the real
 * ones are exercised in test/system against real systemd).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveUnitName } from '../../proto/catalogue/systemd-common.js';
import type { OpEvent } from '../../proto/wire.js';
import { silentLogger } from '../../runtime/log.js';
import { parseAgentConfig } from '../config.js';
import { Dispatcher } from '../dispatch.js';
import { OpStore } from '../op-store.js';
import type { Executor } from '../executor.js';
import { polkitRule } from '../polkit.js';
import type { SystemdBus, UnitStatus } from '../systemd/bus.js';
import { setBusFactory } from '../systemd/deps.js';
import { journalArgv, journalTime, parseEntry } from '../systemd/journal.js';
import { OP_TABLE } from './index.js';
import { allowed, unitGlob } from './sys-restart.js';

const status = (unit: string, over: Partial<UnitStatus> = {}): UnitStatus => ({
  unit, description: '', loadState: 'loaded', activeState: 'active', subState: 'running', result: 'success', mainPid: 10, since: null,
  nRestarts: 0, memoryBytes: null, cpuNsec: null, unitFileState: 'static', execMainStatus: 0, ...over,
});

/** A fake bus that records every call. */
function fakeBus(): { calls: string[]; bus: SystemdBus } {
  const calls: string[] = [];
  let pid = 10;
  return {
    calls,
    bus: {
      status: async (u) => (calls.push(`status ${u}`), status(u, { mainPid: pid })),
      restart: async (u) => (calls.push(`restart ${u}`), (pid += 1), { job: '/job/1', result: 'done' }),
      listFailed: async () => (calls.push('listFailed'), []),
      close: () => undefined,
    },
  };
}

const noJournal: Executor = async () => ({ code: 0, signal: null, stdout: '', stderr: '', truncated: false, timedOut: false, aborted: false, stoppedEarly: false, durationMs: 0 });

function dispatcher(ops: Record<string, object>, storeDir?: string) {
  return new Dispatcher(OP_TABLE, parseAgentConfig({ ops }, OP_TABLE), { log: silentLogger(), exec: noJournal, ...(storeDir ? { storeDir } : {}) });
}

async function call(d: Dispatcher, op: string, params: unknown): Promise<NonNullable<OpEvent['outcome']>> {
  let outcome: OpEvent['outcome'];
  await d.handle({ request_id: 'r', op, params_json: JSON.stringify(params), deadline_ms: Date.now() + 10_000, principal: 'p', audit_id: 'a' }, (e) => {
    if (e.outcome) outcome = e.outcome;
  });
  return outcome!;
}

let restore: () => void = () => undefined;
afterEach(() => restore());

describe('unit names', () => {
  it('resolves like systemctl: a name without a unit type is a service', () => {
    expect(resolveUnitName('nginx')).toBe('nginx.service');
    expect(resolveUnitName('nginx.service')).toBe('nginx.service');
    expect(resolveUnitName('getty@tty1')).toBe('getty@tty1.service');
    expect(resolveUnitName('foo.timer')).toBe('foo.timer');
    expect(resolveUnitName('nginx.conf')).toBe('nginx.conf.service');
  });

  it('bad names are refused by the agent before any D-Bus call', async () => {
    const f = fakeBus();
    restore = setBusFactory(async () => f.bus);
    const d = dispatcher({ 'sys.status': {}, 'sys.restart': { units: ['*'] }, 'diag.service': {}, 'journal.query': {} });
    for (const unit of ['../x', 'a;b', 'x'.repeat(300), '', 'ngin\u0445', 'a\u200bb', '-H', 'a b', '$(id)', 'a/b']) {
      for (const [op, p] of [['sys.status', { unit }], ['sys.restart', { unit }], ['diag.service', { name: unit }], ['journal.query', { unit }]] as const) {
        const o = await call(d, op, p);
        expect(o.error?.code, `${op} ${JSON.stringify(unit)}`).toBe('KU_ERR_INVALID_PARAMS');
      }
    }
    expect(f.calls).toEqual([]);
  });
});

describe('sys.restart logic', () => {
  it('matches allowlist globs; entries without a type mean .service', () => {
    expect(unitGlob('app-*.service').test('app-web.service')).toBe(true);
    expect(unitGlob('app-*.service').test('app-web.socket')).toBe(false);
    expect(unitGlob('a.b').test('aXb')).toBe(false);
    expect(allowed('nginx.service', { units: ['nginx'] })).toBe(true);
    expect(allowed('nginx2.service', { units: ['nginx'] })).toBe(false);
  });

  it('refuses a unit outside the allowlist with no bus call; budget counts attempts per unit', async () => {
    const f = fakeBus();
    restore = setBusFactory(async () => f.bus);
    const d = dispatcher({ 'sys.restart': { units: ['web.service'], budget: { max: 2, windowMinutes: 5 }, settleMs: 0 } });
    expect((await call(d, 'sys.restart', { unit: 'db' })).error?.code).toBe('KU_ERR_UNIT_NOT_ALLOWED');
    expect(f.calls).toEqual([]);
    const dry = JSON.parse((await call(d, 'sys.restart', { unit: 'db', dryRun: true })).data_json);
    expect(dry).toMatchObject({ allowed: false, budgetLeft: 2, dryRun: true });
    expect(f.calls).not.toContain('restart db.service');
    const first = await call(d, 'sys.restart', { unit: 'web' });
    expect(JSON.parse(first.data_json)).toMatchObject({ budgetLeft: 1, changed: { mainPid: { from: 10, to: 11 } } });
    expect((await call(d, 'sys.restart', { unit: 'web' })).ok).toBe(true);
    const third = await call(d, 'sys.restart', { unit: 'web' });
    expect(third.error?.code).toBe('KU_ERR_RESTART_BUDGET_EXCEEDED');
    expect(f.calls.filter((c) => c.startsWith('restart'))).toEqual(['restart web.service', 'restart web.service']);
  });

  it('the budget outlives the agent process: a new dispatcher on the same state still refuses', async () => {
    const f = fakeBus();
    restore = setBusFactory(async () => f.bus);
    const dir = mkdtempSync(join(tmpdir(), 'ku-store-'));
    try {
      const ops = { 'sys.restart': { units: ['web.service'], budget: { max: 2, windowMinutes: 5 }, settleMs: 0 } };
      const first = dispatcher(ops, dir);
      expect((await call(first, 'sys.restart', { unit: 'web' })).ok).toBe(true);
      expect((await call(first, 'sys.restart', { unit: 'web' })).ok).toBe(true);
      // The agent restarts (crash, upgrade): same state directory, new process.
      const second = dispatcher(ops, dir);
      expect(JSON.parse((await call(second, 'sys.restart', { unit: 'web', dryRun: true })).data_json).budgetLeft).toBe(0);
      expect((await call(second, 'sys.restart', { unit: 'web' })).error?.code).toBe('KU_ERR_RESTART_BUDGET_EXCEEDED');
      expect(f.calls.filter((c) => c.startsWith('restart'))).toHaveLength(2);
      expect(statSync(join(dir, 'sys.restart.json')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable store starts empty and says so instead of failing every call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ku-store-'));
    try {
      writeFileSync(join(dir, 'x.json'), '{not json');
      const heard: string[] = [];
      const s = new OpStore(join(dir, 'x.json'), (e) => heard.push(e.message));
      expect(s.size).toBe(0);
      expect(heard).toHaveLength(1);
      s.set('a', [1]);
      expect(JSON.parse(readFileSync(join(dir, 'x.json'), 'utf8'))).toEqual({ a: [1] });
      expect(new OpStore(join(dir, 'x.json')).get('a')).toEqual([1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed job is KU_ERR_UNIT_FAILED', async () => {
    const f = fakeBus();
    f.bus.restart = async () => ({ job: '/job/9', result: 'failed' });
    f.bus.status = async (u) => status(u, { activeState: 'failed', subState: 'failed', result: 'exit-code', mainPid: null });
    restore = setBusFactory(async () => f.bus);
    const d = dispatcher({ 'sys.restart': { units: ['*'] } });
    const o = await call(d, 'sys.restart', { unit: 'x' });
    expect(o.error?.code).toBe('KU_ERR_UNIT_FAILED');
    expect(JSON.parse(o.error!.details_json)).toMatchObject({ jobResult: 'failed' });
  });
});

describe('journal reading', () => {
  it('builds argv without a shell and converts times', () => {
    const argv = journalArgv({ unit: 'a.service', priority: 3, since: '1h', limit: 10, maxBytes: 1000, directory: '/j' });
    expect(argv.slice(0, 5)).toEqual(['journalctl', '--no-pager', '--quiet', '--output=json', '--reverse']);
    expect(argv).toContain('--unit=a.service');
    expect(argv).toContain('--priority=3');
    expect(argv).toContain('--directory=/j');
    expect(argv).toContain('--lines=11');
    expect(argv.find((a) => a.startsWith('--since='))).toMatch(/^--since=@\d+$/);
    expect(journalArgv({ match: 'x', limit: 10, maxBytes: 1 })).not.toContain('--lines=11');
    expect(journalTime('2026-01-01T00:00:00Z')).toBe('@1767225600');
    expect(journalTime('30m', 1_800_000)).toBe('@0');
  });

  it('parses entries, including binary MESSAGE fields', () => {
    const e = parseEntry(JSON.stringify({ __REALTIME_TIMESTAMP: '1700000000000000', _SYSTEMD_UNIT: 'x.service', PRIORITY: '3', MESSAGE: [104, 105], _PID: '42' }));
    expect(e).toEqual({ time: '2023-11-14T22:13:20.000Z', unit: 'x.service', priority: 3, priorityName: 'err', message: 'hi', pid: 42 });
    expect(parseEntry('not json')).toBeNull();
  });
});

describe('polkit rule', () => {
  it('grants restart of exactly the allowlisted units to the agent user', () => {
    const cfg = parseAgentConfig({ ops: { 'sys.restart': { units: ['nginx', 'app-*.service'] } } }, OP_TABLE);
    const rule = polkitRule(cfg, 'ku-agent', '/etc/ku/agent.json');
    expect(rule).toContain('subject.user !== "ku-agent"');
    expect(rule).toContain('/^nginx\\.service$/');
    expect(rule).toContain('/^app-.*\\.service$/');
    expect(rule).toContain('polkit.Result.NO');
    // The rule is valid JavaScript that polkit can evaluate: run it against a stand-in polkit.
    let fn: ((a: unknown, s: unknown) => string) | undefined;
    const polkit = { Result: { YES: 'yes', NO: 'no', NOT_HANDLED: 'nh' }, addRule: (f: typeof fn) => (fn = f) };
    new Function('polkit', rule)(polkit);
    const act = (unit: string, verb = 'restart') => ({ id: 'org.freedesktop.systemd1.manage-units', lookup: (k: string) => (k === 'unit' ? unit : verb) });
    expect(fn!(act('nginx.service'), { user: 'ku-agent' })).toBe('yes');
    expect(fn!(act('app-x.service'), { user: 'ku-agent' })).toBe('yes');
    expect(fn!(act('sshd.service'), { user: 'ku-agent' })).toBe('no');
    expect(fn!(act('nginx.service', 'stop'), { user: 'ku-agent' })).toBe('no');
    expect(fn!(act('nginx.service'), { user: 'alice' })).toBe('nh');
    expect(() => polkitRule(cfg, 'bad"user', 'x')).toThrow(/invalid user/);
  });
});
