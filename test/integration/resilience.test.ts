/**
 * Lifecycles: reconnect after a hub restart, ops in flight when the agent
 * goes away, deadlines, caller cancellation and certificate renewal.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, control, identityCreds, principal, results, run, runReq, startAgent, startHub, waitFor } from '../helpers/rig.js';
import { once, sleepEvents } from '../helpers/test-ops.js';
import { uniq } from '../helpers/rig.js';
import type * as grpc from '@grpc/grpc-js';
import type { AgentMessage, HubMessage } from '../../proto/wire.js';
import { CLIENT_OPTIONS, fromGrpcError, kuPackage } from '../../runtime/grpc.js';

afterAll(cleanup);

describe('agent link lifecycle', () => {
  it('the agent reconnects by itself after the hub restarts, and ops work again', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const id = await principal(h);
    const states: string[] = [];
    a.agent.link.on('state', (s: string) => states.push(s));
    const reconnected = new Promise<void>((resolve) => a.agent.link.once('connected', () => resolve()));
    await h.restart();
    await reconnected;
    expect(states).toContain('connecting');
    expect(a.agent.link.state).toBe('connected');
    const c = control(h, identityCreds(id));
    const r = await run(c, runReq('diag.host', { top: 1 }, { hosts: [a.name] })).done;
    expect(results(r.events)[0]?.ok).toBe(true);
  });

  it('the hub drops an agent whose stream stays open but sends no heartbeats', async () => {
    const h = await startHub({ config: { heartbeatIntervalMs: 200 } });
    const a = await startAgent(h, { start: false });
    // A silent agent: valid identity, says Hello, then nothing.
    const link = new (kuPackage().AgentLink)(h.addr, identityCreds(a.dir), CLIENT_OPTIONS) as unknown as { Connect(): grpc.ClientDuplexStream<AgentMessage, HubMessage>; close(): void };
    const call = link.Connect();
    const ended = new Promise<string>((resolve) => call.on('error', (e) => resolve(fromGrpcError(e).code)));
    call.on('data', () => undefined);
    call.write({ hello: { version: 'silent', ops: [{ name: 'diag.host', limits_json: '{}' }], hostname: 'x' } });
    await waitFor(() => h.hub.registry.get(a.name) !== undefined, 'silent agent to register');
    await waitFor(() => h.hub.registry.get(a.name) === undefined, 'hub to drop the silent agent');
    expect(await ended).toBe('KU_ERR_AGENT_DISCONNECTED');
    link.close();
  });

  it('an op in flight when its agent disconnects ends at once with a retryable error', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const c = control(h, identityCreds(await principal(h)));
    const tag = uniq('inflight');
    const started = once(sleepEvents, 'started', (t) => t === tag);
    const live = run(c, runReq('test.sleep', { ms: 60_000, tag }, { hosts: [a.name] }));
    await started;
    await a.agent.close();
    const r = await live.done;
    const res = results(r.events)[0]!;
    expect(res.ok).toBe(false);
    expect(res.error?.code).toBe('KU_ERR_AGENT_DISCONNECTED');
    expect(res.error?.retryable).toBe(true);
  });

  it('a deadline cancels the op on the agent and returns KU_ERR_TIMEOUT', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const c = control(h, identityCreds(await principal(h)));
    const tag = uniq('deadline');
    const ended = once<{ tag: string; aborted: boolean }>(sleepEvents, 'ended', (e) => e.tag === tag);
    const r = await run(c, runReq('test.sleep', { ms: 60_000, tag }, { hosts: [a.name], timeout_ms: 300 })).done;
    expect(results(r.events)[0]?.error?.code).toBe('KU_ERR_TIMEOUT');
    expect((await ended).aborted).toBe(true);
  });

  it('a caller that cancels its call cancels the op on the agent', async () => {
    const h = await startHub();
    const a = await startAgent(h);
    const c = control(h, identityCreds(await principal(h)));
    const tag = uniq('cancel');
    const started = once(sleepEvents, 'started', (t) => t === tag);
    const ended = once<{ tag: string; aborted: boolean }>(sleepEvents, 'ended', (e) => e.tag === tag);
    const live = run(c, runReq('test.sleep', { ms: 60_000, tag }, { hosts: [a.name] }));
    await started;
    live.call.cancel();
    expect((await ended).aborted).toBe(true);
    await waitFor(() => h.hub.registry.get(a.name)!.inFlight === 0, 'hub to forget the op');
  });

  it('agents renew their certificate over the link before it expires and keep working', async () => {
    const h = await startHub({ config: { agentCertTtl: '3s' } });
    const a = await startAgent(h);
    const certPath = join(a.dir, 'client.crt');
    const first = new X509Certificate(readFileSync(certPath));
    const renewed = new Promise<Date>((resolve) => a.agent.link.once('renewed', resolve));
    const notAfter = await renewed;
    const second = new X509Certificate(readFileSync(certPath));
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(notAfter.getTime()).toBeGreaterThan(Date.parse(first.validTo));
    expect(second.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(join(a.dir, 'client.key'))))).toBe(true);
    expect(h.state.agent(a.name)!.serials).toHaveLength(2);
    // After the first certificate has expired, a reconnect uses the new one.
    await waitFor(() => Date.now() > Date.parse(first.validTo) + 1000, 'first certificate to expire');
    const reconnected = new Promise<void>((resolve) => a.agent.link.once('connected', () => resolve()));
    await h.restart();
    await reconnected;
    const c = control(h, identityCreds(await principal(h)));
    const r = await run(c, runReq('diag.host', { top: 1 }, { hosts: [a.name] })).done;
    expect(results(r.events)[0]?.ok).toBe(true);
  });
});
