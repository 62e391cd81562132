/**
 * The agent's one dispatch pipeline:
 *   look up → allowlist → validate params → op check against limits →
 *   run with deadline and AbortSignal → validate result → outcome → log
 * Operations contain domain logic only; every refusal happens here, before
 * any side effect, whatever the hub sent.
 */
import { KuError } from '../proto/errors.js';
import type { OpEvent, OpOffer, OpRequest } from '../proto/wire.js';
import { errorToWire } from '../runtime/grpc.js';
import type { Logger } from '../runtime/log.js';
import type { AgentConfig } from './config.js';
import type { Executor } from './executor.js';
import { OpStore, opStoreFile } from './op-store.js';
import type { OpImpl } from './ops/types.js';

/** Largest params document the agent accepts. */
const MAX_PARAMS_BYTES = 64 * 1024;

export class Dispatcher {
  private readonly table: ReadonlyMap<string, OpImpl>;
  private readonly running = new Map<string, AbortController>();
  private readonly stores = new Map<string, OpStore>();

  constructor(
    table: readonly OpImpl[],
    private readonly config: AgentConfig,
    /** `storeDir`: where ops keep what must outlive the process (budgets); memory only without it. */
    private readonly deps: { log: Logger; exec: Executor; storeDir?: string },
  ) {
    this.table = new Map(table.map((i) => [i.spec.name, i] as const));
  }

  /** What this agent offers the hub: its allowlist. */
  offers(): OpOffer[] {
    return [...this.config.ops].map(([name, limits]) => ({ name, limits_json: JSON.stringify(limits) }));
  }

  get runningCount(): number {
    return this.running.size;
  }

  private storeOf(op: string): OpStore {
    let s = this.stores.get(op);
    if (!s) {
      const file = this.deps.storeDir ? opStoreFile(this.deps.storeDir, op) : null;
      s = new OpStore(file, (err) => this.deps.log.warn({ op, file, err: err.message }, 'op store unreadable; starting it empty'));
      this.stores.set(op, s);
    }
    return s;
  }

  /** Cancel one running op. */
  cancel(requestId: string, reason: string): void {
    this.running.get(requestId)?.abort(new KuError('KU_ERR_CANCELLED', `cancelled: ${reason}`));
  }

  /** Cancel everything (link lost, shutdown). */
  cancelAll(reason: string): void {
    for (const id of [...this.running.keys()]) this.cancel(id, reason);
  }

  /** Run one request; every event (progress, chunk, the single outcome) goes to `emit`. */
  async handle(req: OpRequest, emit: (ev: OpEvent) => void): Promise<void> {
    const started = Date.now();
    const log = this.deps.log.child({ op: req.op, requestId: req.request_id, principal: req.principal, auditId: req.audit_id });
    const finish = (outcome: { ok: true; data: unknown } | { ok: false; error: KuError }): void => {
      const durationMs = Date.now() - started;
      if (outcome.ok) {
        emit({ request_id: req.request_id, outcome: { ok: true, data_json: JSON.stringify(outcome.data), error: null, duration_ms: durationMs } });
        log.info({ durationMs }, 'op completed');
      } else {
        emit({ request_id: req.request_id, outcome: { ok: false, data_json: '', error: errorToWire(outcome.error), duration_ms: durationMs } });
        log.info({ durationMs, code: outcome.error.code }, 'op failed');
      }
    };
    const impl = this.table.get(req.op);
    if (!impl) return finish({ ok: false, error: new KuError('KU_ERR_UNKNOWN_OP', `this agent has no operation ${JSON.stringify(req.op)}`) });
    if (!this.config.ops.has(req.op)) return finish({ ok: false, error: new KuError('KU_ERR_OP_NOT_ALLOWED', `${req.op} is not in this agent's allowlist`) });
    if (Buffer.byteLength(req.params_json) > MAX_PARAMS_BYTES) return finish({ ok: false, error: new KuError('KU_ERR_PAYLOAD_TOO_LARGE', `params larger than ${MAX_PARAMS_BYTES} bytes`) });
    let raw: unknown;
    try {
      raw = req.params_json ? JSON.parse(req.params_json) : {};
    } catch {
      return finish({ ok: false, error: new KuError('KU_ERR_INVALID_PARAMS', 'params are not valid JSON') });
    }
    const parsed = impl.spec.params.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return finish({ ok: false, error: new KuError('KU_ERR_INVALID_PARAMS', issues.map((i) => `${i.path || '(params)'}: ${i.message}`).join('; '), { issues }) });
    }
    const limits = this.config.ops.get(req.op);
    if (this.running.size >= this.config.maxConcurrentOps) {
      return finish({ ok: false, error: new KuError('KU_ERR_LIMIT_EXCEEDED', `agent is running ${this.running.size} operations, its limit`) });
    }
    try {
      impl.check?.(parsed.data, limits as never);
    } catch (e) {
      return finish({ ok: false, error: e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', String(e)) });
    }
    const deadline = Math.min(req.deadline_ms || Infinity, started + impl.spec.timeoutMs);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new KuError('KU_ERR_TIMEOUT', `deadline of ${deadline - started} ms passed`)), Math.max(0, deadline - started));
    this.running.set(req.request_id, ac);
    try {
      const aborted = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true }));
      const data = await Promise.race([
        impl.run(parsed.data, {
          signal: ac.signal,
          deadline,
          limits: limits as never,
          log,
          exec: this.deps.exec,
          host: this.config.host,
          store: this.storeOf(req.op),
          principal: req.principal,
          auditId: req.audit_id,
          progress: (d) => emit({ request_id: req.request_id, progress: { json: JSON.stringify(d) } }),
          chunk: (d) => emit({ request_id: req.request_id, chunk: { json: JSON.stringify(d) } }),
        }),
        aborted,
      ]);
      const checked = impl.spec.result.safeParse(data);
      if (!checked.success) {
        log.error({ issues: checked.error.issues.slice(0, 5) }, 'op returned a result that breaks its spec');
        return finish({ ok: false, error: new KuError('KU_ERR_INTERNAL', `${req.op} produced a result that does not match its spec`) });
      }
      finish({ ok: true, data: checked.data });
    } catch (e) {
      const err = ac.signal.aborted && ac.signal.reason instanceof KuError ? ac.signal.reason : e instanceof KuError ? e : new KuError('KU_ERR_OP_FAILED', e instanceof Error ? e.message : String(e));
      finish({ ok: false, error: err });
    } finally {
      clearTimeout(timer);
      this.running.delete(req.request_id);
    }
  }
}
