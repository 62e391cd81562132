/**
 * The hub's view of connected agents: one session per agent stream, with the
 * operations in flight on it. An operation ends exactly once: with the agent's
 * outcome, at its deadline, when cancelled, or when the stream goes away.
 */
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { KuError, type KuErrorBody } from '../proto/errors.js';
import type { AgentMessage, HubMessage, OpEvent } from '../proto/wire.js';
import { errorFromWire, errorToWire, toGrpcError } from '../runtime/grpc.js';
import type { Labels } from '../runtime/selector.js';

/** How an operation ended on an agent. */
export type OpOutcome = { ok: true; data: unknown; durationMs: number } | { ok: false; error: KuErrorBody; durationMs: number };

/** Callbacks for what an operation streams before its outcome. */
export interface OpStreamHandlers {
  onProgress?: (json: string) => void;
  onChunk?: (json: string) => void;
}

interface Pending {
  started: number;
  handlers: OpStreamHandlers;
  timer: NodeJS.Timeout;
  resolve: (o: OpOutcome) => void;
}

/** One connected agent. */
export class AgentSession {
  readonly connectedSince = Date.now();
  lastHeartbeat = Date.now();
  running = 0;
  readonly serials: Set<string>;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  constructor(
    readonly name: string,
    readonly labels: Labels,
    readonly version: string,
    readonly hostname: string,
    readonly ops: ReadonlyMap<string, string>,
    serial: string,
    public certNotAfter: number,
    private readonly call: grpc.ServerDuplexStream<AgentMessage, HubMessage>,
  ) {
    this.serials = new Set([serial]);
  }

  send(msg: HubMessage): void {
    if (!this.closed) this.call.write(msg);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Send an operation to the agent; resolves with its outcome, never rejects. */
  dispatch(
    req: { op: string; paramsJson: string; timeoutMs: number; principal: string; auditId: string },
    handlers: OpStreamHandlers,
  ): { requestId: string; outcome: Promise<OpOutcome>; cancel: (reason: string) => void } {
    const requestId = randomUUID();
    const started = Date.now();
    const outcome = new Promise<OpOutcome>((resolve) => {
      if (this.closed) {
        resolve({ ok: false, error: new KuError('KU_ERR_AGENT_DISCONNECTED', `agent ${this.name} disconnected`).toBody(), durationMs: 0 });
        return;
      }
      const timer = setTimeout(() => {
        this.send({ cancel: { request_id: requestId, reason: 'deadline' } });
        this.finish(requestId, { ok: false, error: new KuError('KU_ERR_TIMEOUT', `no result from ${this.name} within ${req.timeoutMs} ms; cancelled`).toBody(), durationMs: Date.now() - started });
      }, req.timeoutMs);
      this.pending.set(requestId, { started, handlers, timer, resolve });
      this.send({
        request: {
          request_id: requestId,
          op: req.op,
          params_json: req.paramsJson,
          deadline_ms: started + req.timeoutMs,
          principal: req.principal,
          audit_id: req.auditId,
        },
      });
    });
    const cancel = (reason: string): void => {
      if (!this.pending.has(requestId)) return;
      this.send({ cancel: { request_id: requestId, reason } });
      this.finish(requestId, { ok: false, error: new KuError('KU_ERR_CANCELLED', `cancelled: ${reason}`).toBody(), durationMs: Date.now() - started });
    };
    return { requestId, outcome, cancel };
  }

  /** Route an event from the agent to its pending operation. */
  onEvent(ev: OpEvent): void {
    const p = this.pending.get(ev.request_id);
    if (!p) return; // late event for an op that already ended (deadline, cancel)
    if (ev.kind === 'progress' && ev.progress) p.handlers.onProgress?.(ev.progress.json);
    else if (ev.kind === 'chunk' && ev.chunk) p.handlers.onChunk?.(ev.chunk.json);
    else if (ev.kind === 'outcome' && ev.outcome) {
      const o = ev.outcome;
      let outcome: OpOutcome;
      if (o.ok) {
        let data: unknown;
        try {
          data = o.data_json ? JSON.parse(o.data_json) : null;
        } catch {
          outcome = { ok: false, error: new KuError('KU_ERR_INTERNAL', 'agent sent a result that is not JSON').toBody(), durationMs: o.duration_ms };
          this.finish(ev.request_id, outcome);
          return;
        }
        outcome = { ok: true, data, durationMs: o.duration_ms };
      } else {
        outcome = { ok: false, error: errorFromWire(o.error ?? errorToWire(new KuError('KU_ERR_INTERNAL', 'agent sent a failure without an error'))), durationMs: o.duration_ms };
      }
      this.finish(ev.request_id, outcome);
    }
  }

  private finish(requestId: string, outcome: OpOutcome): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(requestId);
    p.resolve(outcome);
  }

  /** End the session: every pending op fails with a retryable error; the stream ends with `err`. */
  close(err: KuError): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.finish(id, { ok: false, error: new KuError('KU_ERR_AGENT_DISCONNECTED', `agent ${this.name} disconnected while the operation ran (${err.code})`).toBody(), durationMs: Date.now() - p.started });
    }
    try {
      this.call.emit('error', toGrpcError(err));
    } catch {
      /* stream already gone */
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** Connected agents by name. */
export class Registry {
  private readonly sessions = new Map<string, AgentSession>();

  get(name: string): AgentSession | undefined {
    return this.sessions.get(name);
  }

  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Add a session; an older session of the same agent is closed. */
  add(s: AgentSession): void {
    const old = this.sessions.get(s.name);
    this.sessions.set(s.name, s);
    old?.close(new KuError('KU_ERR_AGENT_DISCONNECTED', 'replaced by a newer connection of the same agent'));
  }

  remove(s: AgentSession): void {
    if (this.sessions.get(s.name) === s) this.sessions.delete(s.name);
  }
}
