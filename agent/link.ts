/**
 * The agent's link to the hub: one outbound bidi stream, kept alive.
 *
 *   idle ──start──▶ connecting ──Welcome──▶ connected
 *                     ▲    │ error              │ stream lost
 *                     │    ▼                    ▼
 *                     └── backoff (full jitter, exponential, capped) ◀──┘
 *   any ──close()──▶ closed          refused for good (revoked, untrusted) ──▶ closed + 'fatal'
 *
 * While connected it sends heartbeats and renews its certificate at two
 * thirds of its lifetime; the next connection uses the new one.
 */
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { KuError, type ErrorCode } from '../proto/errors.js';
import type { AgentMessage, HubMessage, Welcome } from '../proto/wire.js';
import { errorFromWire, fromGrpcError, CLIENT_OPTIONS, kuPackage } from '../runtime/grpc.js';
import { checkHubIdentity } from '../runtime/identity.js';
import type { Logger } from '../runtime/log.js';
import { createCsr, generateKeyPair, privateKeyToPem, SKEW_MS } from '../runtime/pki.js';
import { KU_VERSION } from '../runtime/version.js';
import type { Dispatcher } from './dispatch.js';
import type { AgentState } from './state.js';

export type LinkState = 'idle' | 'connecting' | 'connected' | 'closed';

/** Errors after which retrying cannot help: the identity itself is refused. */
const FATAL: ReadonlySet<ErrorCode> = new Set(['KU_ERR_AUTH_REVOKED', 'KU_ERR_AUTH_UNTRUSTED_CERT', 'KU_ERR_AUTH_BAD_CERT', 'KU_ERR_AUTH_WRONG_KIND', 'KU_ERR_AUTH_CERT_EXPIRED']);

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/** Full-jitter exponential backoff: uniform in [0, min(cap, base·2^attempt)]. */
export function backoffDelay(attempt: number, o: BackoffOptions, rand: () => number = Math.random): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(rand() * ceiling);
}

export interface LinkOptions {
  hub: string;
  state: AgentState;
  dispatcher: Dispatcher;
  log: Logger;
  backoff?: BackoffOptions;
  /** Renew when this fraction of the certificate's lifetime has passed. */
  renewAt?: number;
}

/**
 * Events: 'state' (LinkState), 'connected' (Welcome), 'renewed' (notAfter Date),
 * 'fatal' (KuError): the hub refused this identity for good.
 */
export class AgentLink extends EventEmitter {
  private current: LinkState = 'idle';
  private attempt = 0;
  private client: grpc.Client | null = null;
  private call: grpc.ClientDuplexStream<AgentMessage, HubMessage> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private pendingKey: string | null = null;
  private readonly backoff: BackoffOptions;

  constructor(private readonly o: LinkOptions) {
    super();
    this.backoff = o.backoff ?? { baseMs: 250, capMs: 30_000 };
  }

  get state(): LinkState {
    return this.current;
  }

  private set(s: LinkState): void {
    if (this.current === s) return;
    this.current = s;
    this.emit('state', s);
  }

  start(): void {
    if (this.current !== 'idle') return;
    this.connect();
  }

  private connect(): void {
    if (this.current === 'closed') return;
    this.set('connecting');
    let id;
    try {
      id = this.o.state.identity();
    } catch (e) {
      return this.fatal(e instanceof KuError ? e : new KuError('KU_ERR_STATE_INVALID', String(e)));
    }
    const pkg = kuPackage();
    const creds = grpc.credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem), { checkServerIdentity: checkHubIdentity });
    this.client?.close();
    const client = new pkg.AgentLink(this.o.hub, creds, CLIENT_OPTIONS);
    this.client = client;
    const call = (client as unknown as { Connect: () => grpc.ClientDuplexStream<AgentMessage, HubMessage> }).Connect();
    this.call = call;
    let ended = false;
    const lost = (err: KuError): void => {
      if (ended) return;
      ended = true;
      this.stopTimers();
      this.o.dispatcher.cancelAll('link to hub lost');
      if (this.call === call) this.call = null;
      if (this.current === 'closed') return;
      if (FATAL.has(err.code)) return this.fatal(err);
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.o.log.warn({ code: err.code, err: err.message, retryInMs: delay, attempt: this.attempt }, 'link to hub lost; reconnecting');
      this.set('connecting');
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
    call.on('data', (msg: HubMessage) => this.onMessage(msg, call));
    call.on('error', (e) => lost(fromGrpcError(e)));
    call.on('end', () => lost(new KuError('KU_ERR_HUB_UNREACHABLE', 'hub ended the stream')));
    call.write({ hello: { version: KU_VERSION, ops: this.o.dispatcher.offers(), hostname: hostname() } });
  }

  private onMessage(msg: HubMessage, call: grpc.ClientDuplexStream<AgentMessage, HubMessage>): void {
    const send = (m: AgentMessage): void => {
      if (this.call === call) call.write(m);
    };
    switch (msg.msg) {
      case 'welcome':
        this.attempt = 0;
        this.onWelcome(msg.welcome!, send);
        break;
      case 'request':
        void this.o.dispatcher.handle(msg.request!, (event) => send({ event }));
        break;
      case 'cancel':
        this.o.dispatcher.cancel(msg.cancel!.request_id, msg.cancel!.reason || 'cancelled by hub');
        break;
      case 'renew':
        this.onRenewed(msg.renew!.cert_pem, msg.renew!.error ? errorFromWire(msg.renew!.error) : null);
        break;
    }
  }

  private onWelcome(w: Welcome, send: (m: AgentMessage) => void): void {
    this.set('connected');
    this.o.log.info({ name: w.name, labels: w.labels }, 'connected to hub');
    this.emit('connected', w);
    const hb = Math.max(100, w.heartbeat_interval_ms || 10_000);
    this.heartbeatTimer = setInterval(() => send({ heartbeat: { sent_at_ms: Date.now(), running: this.o.dispatcher.runningCount } }), hb);
    this.scheduleRenewal(send);
  }

  private scheduleRenewal(send: (m: AgentMessage) => void): void {
    const cert = new X509Certificate(this.o.state.identity().certPem);
    // Certificates start SKEW_MS before issuance; measure the lifetime from issuance.
    const from = Date.parse(cert.validFrom) + SKEW_MS;
    const to = Date.parse(cert.validTo);
    const at = from + Math.max(0, to - from) * (this.o.renewAt ?? 2 / 3);
    const delay = Math.max(0, at - Date.now());
    this.renewTimer = setTimeout(() => void this.requestRenewal(send), Math.min(delay, 2 ** 31 - 1));
  }

  private async requestRenewal(send: (m: AgentMessage) => void): Promise<void> {
    const meta = this.o.state.meta();
    const keys = await generateKeyPair();
    this.pendingKey = await privateKeyToPem(keys.privateKey);
    send({ renew: { csr_pem: await createCsr(keys, meta.name) } });
  }

  private onRenewed(certPem: string, error: { code: string; message: string } | null): void {
    if (error || !certPem || !this.pendingKey) {
      this.o.log.error({ code: error?.code, err: error?.message }, 'certificate renewal refused');
      return;
    }
    this.o.state.saveRenewal(this.pendingKey, certPem);
    this.pendingKey = null;
    const notAfter = new Date(new X509Certificate(certPem).validTo);
    this.o.log.info({ notAfter: notAfter.toISOString() }, 'certificate renewed');
    this.emit('renewed', notAfter);
    if (this.call) this.scheduleRenewal((m) => this.call?.write(m));
  }

  private fatal(err: KuError): void {
    this.o.log.error({ code: err.code, err: err.message, hint: err.hint }, 'hub refused this agent for good; stopping');
    this.close();
    this.emit('fatal', err);
  }

  private stopTimers(): void {
    for (const t of [this.heartbeatTimer, this.renewTimer]) if (t) clearTimeout(t);
    this.heartbeatTimer = this.renewTimer = null;
  }

  /** Close the link for good. */
  close(): void {
    if (this.current === 'closed') return;
    this.set('closed');
    this.stopTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.o.dispatcher.cancelAll('agent shutting down');
    try {
      this.call?.end();
      this.call?.cancel();
    } catch {
      /* already gone */
    }
    this.call = null;
    this.client?.close();
    this.client = null;
  }
}
