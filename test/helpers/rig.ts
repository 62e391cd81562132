/**
 * Integration rig: real hubs and agents over real mTLS on 127.0.0.1, port 0,
 * temp directories, unique names. Everything started is closed by `cleanup`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { buildAgent, type Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { joinHub } from '../../agent/join.js';
import type { OpImpl } from '../../agent/ops/types.js';
import { buildHub, type Hub } from '../../hub/hub.js';
import { HubState } from '../../hub/state.js';
import type { HubConfig } from '../../hub/config.js';
import type { Catalogue } from '../../proto/catalogue/index.js';
import { KuError } from '../../proto/errors.js';
import type { RunEvent, RunRequest } from '../../proto/wire.js';
import { CLIENT_OPTIONS, fromGrpcError, kuPackage } from '../../runtime/grpc.js';
import { checkHubIdentity, loadIdentityDir } from '../../runtime/identity.js';
import type { Labels } from '../../runtime/selector.js';
import { testCatalogue, testTable } from './test-ops.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];

/** Run every registered cleanup, newest first. Call in afterAll/afterEach. */
export async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

export function tmp(prefix = 'ku-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

let seq = 0;
/** A unique name for agents and principals in this process. */
export function uniq(base: string): string {
  return `${base}-${process.pid}-${++seq}`;
}

export interface HubCtx {
  dir: string;
  state: HubState;
  hub: Hub;
  addr: string;
  port: number;
  /** Stop this hub and start a new one on the same state and port. */
  restart(): Promise<void>;
}

/** Init a hub state and start a hub on 127.0.0.1:0. */
export async function startHub(opts: { config?: Partial<HubConfig>; catalogue?: Catalogue } = {}): Promise<HubCtx> {
  const dir = join(tmp('ku-hub-'), 'hub');
  const state = await HubState.init(dir, { listen: '127.0.0.1:0', config: opts.config ?? {} });
  const catalogue = opts.catalogue ?? testCatalogue;
  const ctx = { dir, state } as HubCtx;
  ctx.hub = buildHub(dir, { catalogue });
  const bound = await ctx.hub.start();
  ctx.port = bound.port;
  ctx.addr = `127.0.0.1:${bound.port}`;
  ctx.restart = async () => {
    await ctx.hub.close();
    ctx.hub = buildHub(dir, { catalogue, listen: ctx.addr });
    await ctx.hub.start();
  };
  cleanups.push(() => ctx.hub.close());
  return ctx;
}

export interface AgentCtx {
  name: string;
  dir: string;
  agent: Agent;
}

/** Create a token, join through the real Enroll RPC, start the agent and wait until connected. */
export async function startAgent(
  h: HubCtx,
  opts: {
    name?: string;
    labels?: Labels;
    ops?: Record<string, object>;
    table?: readonly OpImpl[];
    start?: boolean;
    host?: { systemd: Record<string, string> };
    /** more top-level agent config (e.g. postgres) and the environment it reads secrets from */
    extra?: Record<string, unknown>;
    env?: Record<string, string>;
  } = {},
): Promise<AgentCtx> {
  const name = opts.name ?? uniq('agent');
  const dir = join(tmp('ku-agent-'), 'agent');
  const { token } = h.state.createToken(opts.labels ?? { env: 'test' }, 60_000);
  await joinHub({ hub: h.addr, token, stateDir: dir, name });
  const table = opts.table ?? testTable;
  const config = parseAgentConfig(
    { ops: opts.ops ?? { 'diag.host': {}, 'test.sleep': {} }, ...(opts.host ? { systemd: opts.host.systemd } : {}), ...opts.extra },
    table,
    'test agent config',
    opts.env ?? {},
  );
  const agent = buildAgent(dir, { config, table, hub: h.addr, backoff: { baseMs: 50, capMs: 500 } });
  cleanups.push(() => agent.close());
  if (opts.start !== false) {
    agent.start();
    await agent.connected();
  }
  return { name, dir, agent };
}

/** Issue a principal identity directory. */
export async function principal(h: HubCtx, role = 'admin', name = uniq('p'), opts: { notBefore?: Date; notAfter?: Date } = {}): Promise<string> {
  const dir = join(tmp('ku-principal-'), name);
  await h.state.addPrincipal(name, role, dir, { hub: h.addr, ...opts });
  return dir;
}

/** Raw credentials: any CA, key and cert (or none). */
export function creds(caPem: string, keyPem?: string, certPem?: string): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(caPem), keyPem ? Buffer.from(keyPem) : null, certPem ? Buffer.from(certPem) : null, { checkServerIdentity: checkHubIdentity });
}

export function identityCreds(dir: string): grpc.ChannelCredentials {
  const id = loadIdentityDir(dir);
  return creds(id.caPem, id.keyPem, id.certPem);
}

type Unary = (req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void;
export interface ControlStub {
  Run(req: RunRequest): grpc.ClientReadableStream<RunEvent>;
  ListAgents: Unary;
  AuditQuery: Unary;
  WhoAmI: Unary;
  close(): void;
}

/** A raw Control client; closed at cleanup. */
export function control(h: HubCtx, c: grpc.ChannelCredentials): ControlStub {
  const stub = new (kuPackage().Control)(h.addr, c, CLIENT_OPTIONS) as unknown as ControlStub;
  cleanups.push(() => stub.close());
  return stub;
}

export function unary<T>(stub: ControlStub, fn: Unary, req: object = {}): Promise<T> {
  return new Promise((resolve, reject) => fn.call(stub, req, { deadline: Date.now() + 15_000 }, (e, r) => (e ? reject(fromGrpcError(e)) : resolve(r as T))));
}

export function runReq(op: string, params: unknown, more: Partial<RunRequest> = {}): RunRequest {
  return { op, params_json: typeof params === 'string' ? params : JSON.stringify(params), hosts: [], selector: '', timeout_ms: 0, session: '', max_concurrency: '', max_errors: '', ...more };
}

/** Start a Run; `done` resolves with every event, or the call's KuError. */
export function run(stub: ControlStub, req: RunRequest): { call: grpc.ClientReadableStream<RunEvent>; events: RunEvent[]; done: Promise<{ events: RunEvent[]; error: KuError | null }> } {
  const call = stub.Run(req);
  const events: RunEvent[] = [];
  const done = new Promise<{ events: RunEvent[]; error: KuError | null }>((resolve) => {
    call.on('data', (e: RunEvent) => events.push(e));
    call.on('error', (e) => resolve({ events, error: fromGrpcError(e) }));
    call.on('end', () => resolve({ events, error: null }));
  });
  return { call, events, done };
}

/** The result events of a finished run. */
export function results(events: RunEvent[]): NonNullable<RunEvent['result']>[] {
  return events.filter((e) => e.kind === 'result').map((e) => e.result!);
}

/** Run a built CLI (dist/) as a real process. */
export function cli(bin: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const mains: Record<string, string> = { 'ku-hub': 'dist/hub/main.js', 'ku-agent': 'dist/agent/main.js', ku: 'dist/cli/ku.js' };
  const main = join(ROOT, mains[bin] ?? `dist/cli/${bin}.js`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Wait until `pred` holds, polling; fails with `what` after timeoutMs. */
export async function waitFor(pred: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Enroll an agent without the Join RPC (for tests that need hundreds): the key is still made
 * here and only a CSR is signed, as the hub does on join.
 */
export async function enrollDirect(h: HubCtx, name: string, labels: Labels = {}): Promise<string> {
  const { createCsr, generateKeyPair, privateKeyToPem } = await import('../../runtime/pki.js');
  const { AgentState } = await import('../../agent/state.js');
  const dir = join(tmp('ku-agent-'), 'agent');
  const keys = await generateKeyPair();
  const rec = h.state.enrollAgent(name, labels, 'direct');
  const issued = await h.state.issueAgentCert(name, await createCsr(keys, name), rec);
  new AgentState(dir).saveJoin({ hub: h.addr, name, labels, joinedAt: new Date().toISOString() }, h.state.caPem, await privateKeyToPem(keys.privateKey), issued.certPem);
  return dir;
}
