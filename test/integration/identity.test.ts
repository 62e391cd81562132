/**
 * Identity over real mTLS: joining, the agent registry, and every way a
 * caller is refused, each with its own code and no side effect.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAgent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { joinHub } from '../../agent/join.js';
import { readAudit } from '../../hub/audit.js';
import { HUB_FILES, HubState } from '../../hub/state.js';
import type { AgentInfo } from '../../proto/wire.js';
import { CLIENT_OPTIONS, fromGrpcError, kuPackage } from '../../runtime/grpc.js';
import { loadIdentityDir } from '../../runtime/identity.js';
import { cleanup, control, creds, identityCreds, principal, results, run, runReq, startAgent, startHub, tmp, unary, uniq, waitFor } from '../helpers/rig.js';
import { once, sleepEvents, testTable } from '../helpers/test-ops.js';
import type * as grpc from '@grpc/grpc-js';

afterAll(cleanup);

const auditOf = (dir: string) => readAudit(join(dir, HUB_FILES.audit));

describe('join and registry', () => {
  it('a joined agent appears in ListAgents with its token labels and offered ops', async () => {
    const h = await startHub();
    const a = await startAgent(h, { labels: { env: 'prod', role: 'web' } });
    const c = control(h, identityCreds(await principal(h)));
    const { agents } = await unary<{ agents: AgentInfo[] }>(c, c.ListAgents, { selector: '' });
    const me = agents.find((x) => x.name === a.name)!;
    expect(me).toBeDefined();
    expect(me.labels).toEqual({ env: 'prod', role: 'web' });
    expect(me.connected).toBe(true);
    expect(me.ops).toEqual(['diag.host', 'test.sleep']);
    expect(me.last_heartbeat_ms).toBeGreaterThan(0);
    const sel = await unary<{ agents: AgentInfo[] }>(c, c.ListAgents, { selector: 'role=db' });
    expect(sel.agents.find((x) => x.name === a.name)).toBeUndefined();
    // The key was made on the agent's host; the hub kept only the serial.
    const rec = h.state.agent(a.name)!;
    expect(rec.serials).toHaveLength(1);
    expect(readFileSync(join(a.dir, 'client.key'), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('refuses a reused token and an expired token, and enrolls nothing', async () => {
    const h = await startHub();
    const { token } = h.state.createToken({ env: 'x' }, 60_000);
    const name = uniq('once');
    await joinHub({ hub: h.addr, token, stateDir: join(tmp(), 'a'), name });
    const again = uniq('twice');
    await expect(joinHub({ hub: h.addr, token, stateDir: join(tmp(), 'b'), name: again })).rejects.toMatchObject({ code: 'KU_ERR_JOIN_TOKEN_USED' });
    expect(h.state.agent(again)).toBeUndefined();

    const expired = h.state.createToken({ env: 'x' }, 1);
    await waitFor(() => Date.now() > expired.expiresAt.getTime(), 'token expiry');
    const late = uniq('late');
    await expect(joinHub({ hub: h.addr, token: expired.token, stateDir: join(tmp(), 'c'), name: late })).rejects.toMatchObject({ code: 'KU_ERR_JOIN_TOKEN_EXPIRED' });
    expect(h.state.agent(late)).toBeUndefined();

    const forged = `${token.slice(0, 21)}${"A".repeat(43)}${token.slice(64)}`;
    await expect(joinHub({ hub: h.addr, token: forged, stateDir: join(tmp(), 'd'), name: uniq('forged') })).rejects.toMatchObject({ code: 'KU_ERR_JOIN_TOKEN_INVALID' });
    const refused = auditOf(h.dir).filter((r) => r.op === 'hub.join' && r.kind === 'refused').map((r) => r.code);
    expect(refused).toEqual(['KU_ERR_JOIN_TOKEN_USED', 'KU_ERR_JOIN_TOKEN_EXPIRED', 'KU_ERR_JOIN_TOKEN_INVALID']);
  });

  it('refuses to join a server whose CA does not match the token pin, before sending the token', async () => {
    const h = await startHub();
    const other = await startHub();
    const { token } = h.state.createToken({}, 60_000);
    await expect(joinHub({ hub: other.addr, token, stateDir: join(tmp(), 'a'), name: uniq('pin') })).rejects.toMatchObject({ code: 'KU_ERR_HUB_UNTRUSTED' });
    // The token was not presented anywhere: it still works on the right hub.
    await joinHub({ hub: h.addr, token, stateDir: join(tmp(), 'b'), name: uniq('pin-ok') });
  });
});

describe('authentication refusals', () => {
  const diag = runReq('diag.host', { top: 1 });

  it('no client certificate', async () => {
    const h = await startHub();
    await startAgent(h);
    const c = control(h, creds(h.state.caPem));
    const r = await run(c, diag).done;
    expect(r.error?.code).toBe('KU_ERR_AUTH_NO_CERT');
    expect(r.events).toEqual([]);
    expect(auditOf(h.dir).filter((x) => x.kind === 'intent')).toEqual([]);
  });

  it('a certificate from another CA', async () => {
    const h = await startHub();
    await startAgent(h);
    const otherDir = join(tmp(), 'other');
    const other = await HubState.init(otherDir, { listen: '127.0.0.1:0' });
    const stranger = join(tmp(), 'stranger');
    await other.addPrincipal('mallory', 'admin', stranger);
    const id = loadIdentityDir(stranger);
    const c = control(h, creds(h.state.caPem, id.keyPem, id.certPem));
    const r = await run(c, diag).done;
    expect(r.error?.code).toBe('KU_ERR_AUTH_UNTRUSTED_CERT');
    expect(auditOf(h.dir).filter((x) => x.kind === 'intent')).toEqual([]);
  });

  it('an expired certificate', async () => {
    const h = await startHub();
    await startAgent(h);
    const dir = await principal(h, 'admin', uniq('old'), { notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
    const r = await run(control(h, identityCreds(dir)), diag).done;
    expect(r.error?.code).toBe('KU_ERR_AUTH_CERT_EXPIRED');
    expect(auditOf(h.dir).filter((x) => x.kind === 'intent')).toEqual([]);
  });

  it('an agent certificate used as a principal, and a principal certificate used as an agent', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const r = await run(control(h, identityCreds(a.dir)), diag).done;
    expect(r.error?.code).toBe('KU_ERR_AUTH_WRONG_KIND');

    const pdir = await principal(h);
    const link = new (kuPackage().AgentLink)(h.addr, identityCreds(pdir), CLIENT_OPTIONS) as unknown as { Connect(): grpc.ClientDuplexStream<object, object>; close(): void };
    const call = link.Connect();
    const err = await new Promise<Error>((resolve) => call.on('error', resolve));
    expect(fromGrpcError(err).code).toBe('KU_ERR_AUTH_WRONG_KIND');
    link.close();
    expect(auditOf(h.dir).filter((x) => x.kind === 'intent')).toEqual([]);
  });

  it('a revoked principal: its live stream is cut, its op cancelled, and it is refused afterwards', async () => {
    const h = await startHub();
    await startAgent(h);
    const name = uniq('rev');
    const c = control(h, identityCreds(await principal(h, 'admin', name)));
    const tag = uniq('t');
    const started = once(sleepEvents, 'started', (t) => t === tag);
    const ended = once<{ tag: string; aborted: boolean }>(sleepEvents, 'ended', (e) => e.tag === tag);
    const live = run(c, runReq('test.sleep', { ms: 60_000, tag }));
    await started;
    h.state.revoke('principal', name); // what `ku-hub revoke principal NAME` does
    const r = await live.done;
    expect(r.error?.code).toBe('KU_ERR_AUTH_REVOKED');
    expect((await ended).aborted).toBe(true);
    const again = await run(c, diag).done;
    expect(again.error?.code).toBe('KU_ERR_AUTH_REVOKED');
  });

  it('a revoked agent: disconnected at once, stops for good, refused when it comes back', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const fatal = new Promise<{ code: string }>((resolve) => a.agent.link.once('fatal', resolve));
    h.state.revoke('agent', a.name);
    expect((await fatal).code).toBe('KU_ERR_AUTH_REVOKED');
    expect(h.hub.registry.get(a.name)).toBeUndefined();
    // A fresh process with the same identity is refused at connect.
    const again = buildAgent(a.dir, { config: parseAgentConfig({ ops: { 'diag.host': {} } }, testTable), table: testTable, hub: h.addr });
    await expect((again.start(), again.connected())).rejects.toMatchObject({ code: 'KU_ERR_AUTH_REVOKED' });
    await again.close();
    const c = control(h, identityCreds(await principal(h)));
    const gone = await run(c, runReq('diag.host', {}, { hosts: [a.name] })).done;
    expect(gone.error?.code).toBe('KU_ERR_TARGET_UNKNOWN');
    const r = results(gone.events);
    expect(r).toEqual([]);
    const { agents } = await unary<{ agents: AgentInfo[] }>(c, c.ListAgents, { selector: '' });
    expect(agents.find((x) => x.name === a.name)).toBeUndefined();
  });
});
