/**
 * The Run pipeline end to end: the real CLI against a real hub and agent,
 * role policy, targeting, and bad input refused at each layer (CLI, hub, and
 * the agent on its own when a hub the test controls sends it raw).
 */
import { hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../hub/audit.js';
import { HUB_FILES } from '../../hub/state.js';
import type { AgentMessage, HubMessage, OpEvent } from '../../proto/wire.js';
import { GRPC_OPTIONS, kuPackage } from '../../runtime/grpc.js';
import { cleanup, cli, control, identityCreds, principal, results, run, runReq, startAgent, startHub, tmp } from '../helpers/rig.js';

afterAll(cleanup);

const auditOf = (dir: string) => readAudit(join(dir, HUB_FILES.audit));

describe('ku-diag host through hub and agent', () => {
  it('returns real data of this machine, as JSON, with exit 0, and audits intent and outcome', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const id = await principal(h, 'admin', 'alice');
    const r = await cli('ku-diag', ['host', '--top', '3', '--json'], { KU_HUB: h.addr, KU_IDENTITY: id, KU_SESSION: 'sess-42' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const line = JSON.parse(r.stdout.trim());
    expect(line).toMatchObject({ host: a.name, op: 'diag.host', ok: true });
    expect(line.data.hostname).toBe(hostname());
    expect(line.data.memory.totalBytes).toBe(totalmem());
    expect(line.data.topProcesses.length).toBeLessThanOrEqual(3);
    expect(line.data.topProcesses.length).toBeGreaterThan(0);
    expect(line.data.disks.some((d: { mount: string }) => d.mount === '/')).toBe(true);
    const recs = auditOf(h.dir).filter((x) => x.id === line.auditId);
    expect(recs.map((x) => x.kind)).toEqual(['intent', 'outcome']);
    expect(recs[0]).toMatchObject({ principal: 'alice', session: 'sess-42', op: 'diag.host', target: a.name, params: { top: 3 } });
    expect(recs[1]).toMatchObject({ ok: true, code: null });
  });

  it('the CLI refuses bad params with exit 2 before connecting: nothing reaches the hub', async () => {
    const h = await startHub();
    await startAgent(h);
    const id = await principal(h);
    const before = auditOf(h.dir).length;
    for (const args of [['host', '--top', '500'], ['host', '--top', 'abc'], ['host', '--bogus'], ['host', 'extra-arg'], ['nosuch'], ['host', '--max-concurrency', '5x'], ['host', '--max-errors', '150%']]) {
      const r = await cli('ku-diag', [...args, '--json'], { KU_HUB: h.addr, KU_IDENTITY: id });
      expect(r.code, args.join(' ')).toBe(2);
      const out = JSON.parse(r.stdout.trim());
      expect(['KU_ERR_INVALID_PARAMS', 'KU_ERR_USAGE']).toContain(out.error.code);
    }
    expect(auditOf(h.dir).length).toBe(before);
  });

  it('exit codes: 4 when the hub is unreachable, 2 without identity, 3 when denied', async () => {
    const h = await startHub();
    await startAgent(h);
    const id = await principal(h);
    const down = await cli('ku-diag', ['host', '--json'], { KU_HUB: '127.0.0.1:1', KU_IDENTITY: id });
    expect(down.code).toBe(4);
    expect(JSON.parse(down.stdout).error.code).toBe('KU_ERR_HUB_UNREACHABLE');
    const noId = await cli('ku-diag', ['host', '--json'], { KU_HUB: h.addr });
    expect(noId.code).toBe(2);
    expect(JSON.parse(noId.stdout).error.code).toBe('KU_ERR_IDENTITY_MISSING');
    const nobody = await principal(h, 'no-such-role');
    const denied = await cli('ku-diag', ['host', '--json'], { KU_HUB: h.addr, KU_IDENTITY: nobody });
    expect(denied.code).toBe(3);
    expect(JSON.parse(denied.stdout).error.code).toBe('KU_ERR_POLICY_DENIED');
  });
});

describe('role policy', () => {
  it('denies an op the role does not allow and a target outside its hosts, audited as refused, nothing dispatched', async () => {
    const h = await startHub();
    const web = await startAgent(h, { labels: { role: 'web' } });
    const db = await startAgent(h, { labels: { role: 'db' } });
    writeFileSync(
      h.state.path(HUB_FILES.roles),
      JSON.stringify({ roles: { admin: [{ ops: ['*'] }], reader: [{ ops: ['*'], readOnly: true }], webops: [{ ops: ['diag.*'], hosts: 'role=web' }] } }),
    );
    // reader may read but not run a mutating op
    const reader = control(h, identityCreds(await principal(h, 'reader')));
    const r1 = await run(reader, runReq('test.sleep', { ms: 1 }, { hosts: [web.name] })).done;
    expect(results(r1.events)[0]?.error?.code).toBe('KU_ERR_POLICY_DENIED');
    const ok = await run(reader, runReq('diag.host', { top: 1 }, { hosts: [web.name] })).done;
    expect(results(ok.events)[0]?.ok).toBe(true);
    // webops may run diag on web hosts only
    const webops = control(h, identityCreds(await principal(h, 'webops', 'wo')));
    const r2 = await run(webops, runReq('diag.host', { top: 1 }, { hosts: [db.name] })).done;
    expect(results(r2.events)[0]?.error?.code).toBe('KU_ERR_POLICY_DENIED');
    const r3 = await run(webops, runReq('diag.host', { top: 1 }, { selector: 'role in (web,db)' })).done;
    const byHost = Object.fromEntries(r3.events.filter((e) => e.result).map((e) => [e.host, e.result!.error?.code ?? 'ok']));
    expect(byHost).toEqual({ [web.name]: 'ok', [db.name]: 'KU_ERR_POLICY_DENIED' });
    const refused = auditOf(h.dir).filter((x) => x.kind === 'refused' && x.code === 'KU_ERR_POLICY_DENIED');
    expect(refused.map((x) => x.target).sort()).toEqual([web.name, db.name, db.name].sort());
    // no intent was ever written for a denied call
    const intents = auditOf(h.dir).filter((x) => x.kind === 'intent');
    expect(intents.map((x) => `${x.op}@${x.target}`)).toEqual([`diag.host@${web.name}`, `diag.host@${web.name}`]);
  });

  it('a principal with a role the roles file lacks is denied', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const c = control(h, identityCreds(await principal(h, 'ghost-role')));
    const r = await run(c, runReq('diag.host', {}, { hosts: [a.name] })).done;
    expect(results(r.events)[0]?.error?.code).toBe('KU_ERR_POLICY_DENIED');
  });
});

describe('targeting and raw input at the hub', () => {
  it('one agent by default, an error listing them when there are several, unknown hosts refused', async () => {
    const h = await startHub();
    const a1 = await startAgent(h);
    const c = control(h, identityCreds(await principal(h)));
    const one = await run(c, runReq('diag.host', { top: 1 })).done;
    expect(results(one.events).map((r) => r.ok)).toEqual([true]);
    expect(one.events.find((e) => e.kind === 'result')?.host).toBe(a1.name);
    expect(one.events[0]?.plan?.hosts).toEqual([a1.name]);
    const a2 = await startAgent(h);
    const two = await run(c, runReq('diag.host', { top: 1 })).done;
    expect(two.error?.code).toBe('KU_ERR_AMBIGUOUS_TARGET');
    expect(two.error?.details).toEqual({ hosts: [a1.name, a2.name].sort() });
    const unknown = await run(c, runReq('diag.host', {}, { hosts: ['no-such-host'] })).done;
    expect(unknown.error?.code).toBe('KU_ERR_TARGET_UNKNOWN');
  });

  it('refuses raw params that fail the schema, unknown ops and oversize params at the hub', async () => {
    const h = await startHub();
    await startAgent(h);
    const c = control(h, identityCreds(await principal(h)));
    const cases: [string, string, string][] = [
      ['diag.host', '{"top": 500}', 'KU_ERR_INVALID_PARAMS'],
      ['diag.host', '{"top": "3; rm -rf /"}', 'KU_ERR_INVALID_PARAMS'],
      ['diag.host', '{"unexpected": 1}', 'KU_ERR_INVALID_PARAMS'],
      ['diag.host', 'not json', 'KU_ERR_INVALID_PARAMS'],
      ['sys.reboot-everything', '{}', 'KU_ERR_UNKNOWN_OP'],
      ['diag.host', JSON.stringify({ pad: 'x'.repeat(70_000) }), 'KU_ERR_PAYLOAD_TOO_LARGE'],
    ];
    for (const [op, params, code] of cases) {
      const r = await run(c, runReq(op, params)).done;
      expect(r.error?.code, `${op} ${params.slice(0, 30)}`).toBe(code);
      expect(r.events).toEqual([]);
    }
    const recs = auditOf(h.dir);
    expect(recs.filter((x) => x.kind === 'intent')).toEqual([]);
    expect(recs.filter((x) => x.kind === 'refused').map((x) => x.code)).toEqual(cases.map((x) => x[2]));
  });
});

describe('the agent enforces its own allowlist, whatever the hub sends', () => {
  /** A hub the test controls: real TLS with the real hub certificate, sends raw requests. */
  async function rogueHub(h: Awaited<ReturnType<typeof startHub>>, requests: { op: string; params_json: string }[]) {
    const { keyPem, certChainPem } = h.state.hubKeyPair();
    await h.hub.close(); // take its place on the same port
    const server = new grpc.Server(GRPC_OPTIONS);
    const outcomes: OpEvent[] = [];
    const done = new Promise<void>((resolve) => {
      server.addService(kuPackage().AgentLink.service, {
        Connect: (call: grpc.ServerDuplexStream<AgentMessage, HubMessage>) => {
          call.on('data', (m: AgentMessage) => {
            if (m.msg === 'hello') {
              call.write({ welcome: { name: 'x', labels: {}, heartbeat_interval_ms: 10_000, cert_not_after_ms: 0 } });
              requests.forEach((r, i) => call.write({ request: { request_id: `r${i}`, op: r.op, params_json: r.params_json, deadline_ms: Date.now() + 10_000, principal: 'rogue', audit_id: '' } }));
            } else if (m.msg === 'event' && m.event?.kind === 'outcome') {
              outcomes.push(m.event);
              if (outcomes.length === requests.length) resolve();
            }
          });
        },
      });
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(h.addr, grpc.ServerCredentials.createSsl(Buffer.from(h.state.caPem), [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certChainPem) }], true), (e) => (e ? reject(e) : resolve())),
    );
    return { done, outcomes, close: () => server.forceShutdown() };
  }

  it('refuses ops outside its allowlist, unknown ops, invalid params and params over its limits', async () => {
    const h = await startHub();
    const a = await startAgent(h, { ops: { 'diag.host': { maxTop: 3 } }, start: false });
    const rogue = await rogueHub(h, [
      { op: 'test.sleep', params_json: '{"ms": 1}' }, // implemented but not allowlisted on this host
      { op: 'sys.shell', params_json: '{"cmd": "id"}' }, // not an op at all
      { op: 'diag.host', params_json: '{"top": "1 && reboot"}' },
      { op: 'diag.host', params_json: '{"top": 10}' }, // valid per catalogue, over this host's limit
      { op: 'diag.host', params_json: '{"top": 2}' },
    ]);
    a.agent.start();
    await rogue.done;
    rogue.close();
    const byId = Object.fromEntries(rogue.outcomes.map((o) => [o.request_id, o.outcome!]));
    expect(byId.r0?.error?.code).toBe('KU_ERR_OP_NOT_ALLOWED');
    expect(byId.r1?.error?.code).toBe('KU_ERR_UNKNOWN_OP');
    expect(byId.r2?.error?.code).toBe('KU_ERR_INVALID_PARAMS');
    expect(byId.r3?.error?.code).toBe('KU_ERR_LIMIT_EXCEEDED');
    expect(byId.r4?.ok).toBe(true);
    expect(JSON.parse(byId.r4!.data_json).topProcesses).toHaveLength(2);
  });
});
