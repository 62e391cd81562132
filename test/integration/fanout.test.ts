/**
 * Fan-out over 50 agents (each its own certificate and stream): every host answers once,
 * --max-concurrency is never exceeded, --max-errors stops new starts, cancellation stops the
 * rest, offline agents are listed, and mutating fan-out needs an explicit concurrency.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_FILES } from '../../hub/state.js';
import { cleanup, cli, control, identityCreds, principal, results, run, runReq, startAgent, startHub, waitFor, type AgentCtx, type ControlStub, type HubCtx } from '../helpers/rig.js';
import { running, sleepEvents } from '../helpers/test-ops.js';

afterAll(cleanup);

let h: HubCtx;
let c: ControlStub;
let id: string;
const agents: AgentCtx[] = [];
const N = 50;

beforeAll(async () => {
  h = await startHub();
  for (let i = 0; i < N; i += 10) {
    agents.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, (_, j) => {
          const n = i + j;
          // Agents 40-49 fail every test.sleep call; 45-49 are in role=bad for the error tests.
          return startAgent(h, { name: `fleet-${String(n).padStart(2, '0')}-${process.pid}`, labels: { fleet: 'yes', role: n >= 45 ? 'bad' : n >= 40 ? 'flaky' : 'web' }, ops: { 'diag.host': {}, 'test.sleep': { fail: n >= 40 } } });
        }),
      )),
    );
  }
  id = await principal(h);
  c = control(h, identityCreds(id));
}, 120_000);

const names = (sel: (a: AgentCtx, i: number) => boolean) => agents.filter(sel).map((a) => a.name).sort();

describe('fan-out', () => {
  it('every selected host answers exactly once', async () => {
    const r = await run(c, runReq('test.sleep', { ms: 20 }, { selector: 'fleet=yes,role=web', max_concurrency: '100%' })).done;
    expect(r.error).toBeNull();
    const hosts = r.events.filter((e) => e.kind === 'result').map((e) => e.host);
    expect(hosts.sort()).toEqual(names((_, i) => i < 40));
    expect(r.events[0]!.plan!.hosts.sort()).toEqual(names((_, i) => i < 40));
    expect(results(r.events).every((x) => x.ok)).toBe(true);
  });

  it('--max-concurrency is never exceeded', async () => {
    running.max = 0;
    const r = await run(c, runReq('test.sleep', { ms: 40 }, { selector: 'role=web', max_concurrency: '7' })).done;
    expect(results(r.events)).toHaveLength(40);
    expect(running.max).toBe(7);
    running.max = 0;
    await run(c, runReq('test.sleep', { ms: 40 }, { selector: 'role=web', max_concurrency: '10%' })).done;
    expect(running.max).toBe(4);
  });

  it('--max-errors stops new starts once exceeded; the rest are reported as not started', async () => {
    // Failing hosts first in the start order: with concurrency 1 the count is exact.
    const order = [...names((_, i) => i >= 40), ...names((_, i) => i < 40)];
    const r = await run(c, runReq('test.sleep', { ms: 1 }, { hosts: order, max_concurrency: '1', max_errors: '3' })).done;
    const res = r.events.filter((e) => e.kind === 'result');
    expect(res).toHaveLength(50);
    const failed = res.filter((e) => e.result!.error?.code === 'KU_ERR_OP_FAILED').map((e) => e.host);
    expect(failed).toEqual(order.slice(0, 4)); // 4 > 3 errors: stop
    const notStarted = res.filter((e) => e.result!.error?.code === 'KU_ERR_NOT_STARTED').map((e) => e.host);
    expect(notStarted.sort()).toEqual(order.slice(4).sort());
  });

  it('cancellation stops new starts and cancels the running ones', async () => {
    const tag = `cancel-${process.pid}`;
    let started = 0;
    const onStart = (t: string) => t === tag && started++;
    sleepEvents.on('started', onStart);
    const live = run(c, runReq('test.sleep', { ms: 60_000, tag }, { selector: 'role=web', max_concurrency: '5' }));
    await waitFor(() => started === 5, 'five to start');
    live.call.cancel();
    await live.done;
    await waitFor(() => running.now === 0, 'the running ops to be cancelled');
    expect(started).toBe(5);
    sleepEvents.off('started', onStart);
  });

  it('offline agents are listed as such, never silently missing', async () => {
    const gone = agents.slice(35, 38);
    for (const a of gone) await a.agent.close();
    await waitFor(() => gone.every((a) => !h.hub.registry.get(a.name)), 'the hub to see them go');
    const r = await run(c, runReq('diag.host', { top: 1 }, { selector: 'role=web' })).done;
    const offline = r.events.filter((e) => e.result?.error?.code === 'KU_ERR_AGENT_OFFLINE').map((e) => e.host).sort();
    expect(offline).toEqual(gone.map((a) => a.name).sort());
    expect(results(r.events)).toHaveLength(40);
  });

  it('a mutating op on several hosts needs --max-concurrency; roles can cap fan-out size', async () => {
    const r = await run(c, runReq('test.sleep', { ms: 1 }, { selector: 'role=web' })).done;
    expect(r.error?.code).toBe('KU_ERR_FANOUT_NEEDS_CONCURRENCY');
    writeFileSync(h.state.path(HUB_FILES.roles), JSON.stringify({ roles: { admin: [{ ops: ['*'] }], small: [{ ops: ['*'], maxTargets: 10 }] } }));
    const small = control(h, identityCreds(await principal(h, 'small')));
    const capped = await run(small, runReq('diag.host', { top: 1 }, { selector: 'role=web' })).done;
    expect(capped.error?.code).toBe('KU_ERR_POLICY_DENIED');
    expect(capped.error?.details).toMatchObject({ cap: 10, targets: 40 });
  });

  it('the CLI prints one JSON line per host, then a summary', async () => {
    const r = await cli('ku-diag', ['host', '--selector', 'role in (flaky,bad)', '--top', '1', '--json'], { KU_HUB: h.addr, KU_IDENTITY: id });
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.host)).toHaveLength(10);
    expect(lines.at(-1).summary).toMatchObject({ total: 10, ok: 10, failed: 0, didNotAnswer: [] });
    expect(r.code).toBe(0);
  });
});
