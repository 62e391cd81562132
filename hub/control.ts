/**
 * The control API (Control service): what CLIs, people and AI principals call.
 *
 * Run is the one dispatch pipeline on the hub:
 *   authenticate → op lookup → params validation → target resolution →
 *   per target: role policy → audit intent → dispatch with deadline → audit outcome → result
 * Anything refused before dispatch is audited as `refused` and never reaches an agent.
 */
import { statSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import type { Catalogue } from '../proto/catalogue/index.js';
import { KuError, type KuErrorBody } from '../proto/errors.js';
import type { OpSpec } from '../proto/op-spec.js';
import type { AgentInfo, AuditQueryRequest, ListAgentsRequest, RunEvent, RunRequest } from '../proto/wire.js';
import { errorToWire, toGrpcError } from '../runtime/grpc.js';
import type { Logger } from '../runtime/log.js';
import { matches, parseSelector, type Labels } from '../runtime/selector.js';
import { parseShare } from '../runtime/share.js';
import { readAudit, type AuditLog } from './audit.js';
import type { Authenticator, Caller } from './authn.js';
import { Policy } from './policy.js';
import type { OpOutcome, Registry } from './registry.js';
import { HUB_FILES, type HubState } from './state.js';

/** Largest params document a Run may carry. */
export const MAX_PARAMS_BYTES = 64 * 1024;

export interface ControlDeps {
  state: HubState;
  auth: Authenticator;
  registry: Registry;
  audit: AuditLog;
  catalogue: Catalogue;
  log: Logger;
}

interface Target {
  name: string;
  labels: Labels;
}

/** Caches the roles file, re-reading it when it changes on disk. */
class PolicyCache {
  private cached: { mtime: number; policy: Policy } | null = null;
  constructor(private readonly path: string) {}
  get(): Policy {
    const mtime = statSync(this.path).mtimeMs;
    if (!this.cached || this.cached.mtime !== mtime) this.cached = { mtime, policy: Policy.load(this.path) };
    return this.cached.policy;
  }
}

function asKuError(e: unknown): KuError {
  return e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', e instanceof Error ? e.message : String(e));
}

/** Build the Control service implementation. */
export function controlService(deps: ControlDeps): { impl: grpc.UntypedServiceImplementation; cutPrincipal: (serials: Set<string>) => void } {
  const policies = new PolicyCache(deps.state.path(HUB_FILES.roles));
  /** Live Run calls, so that revoking a principal cuts them at once. */
  const live = new Map<grpc.ServerWritableStream<RunRequest, RunEvent>, { serial: string; abort: (e: KuError) => void }>();

  /** Authenticate a principal and find its role. */
  function principalOf(call: ServerSurfaceCall): { caller: Caller; role: string; policy: Policy } {
    const caller = deps.auth.require(call, ['principal']);
    const rec = deps.state.principal(caller.name);
    if (!rec || !rec.serials.includes(caller.serial)) throw new KuError('KU_ERR_AUTH_UNKNOWN_PRINCIPAL', `principal ${caller.name} is not known to this hub`);
    return { caller, role: rec.role, policy: policies.get() };
  }

  function refuse(call: grpc.ServerWritableStream<RunRequest, RunEvent>, err: KuError, principal: string | null, req: Partial<RunRequest>, params?: unknown): void {
    deps.audit.append({
      kind: 'refused',
      principal,
      ...(req.session ? { session: req.session } : {}),
      op: req.op ?? '',
      params: params ?? null,
      target: req.hosts?.join(',') || req.selector || null,
      ok: false,
      code: err.code,
    });
    deps.log.info({ principal, op: req.op, code: err.code }, 'run refused');
    call.emit('error', toGrpcError(err));
  }

  /** Enrolled agents that still hold a certificate that is not revoked. */
  function enrolledAgents() {
    return deps.state.agents().filter((a) => a.serials.some((s) => !deps.auth.isRevoked(s)));
  }

  function resolveTargets(spec: OpSpec, req: RunRequest): Target[] {
    const known = new Map(enrolledAgents().map((a) => [a.name, a.labels] as const));
    if (req.hosts.length > 0) {
      return [...new Set(req.hosts)].map((name) => {
        const labels = known.get(name);
        if (!labels) throw new KuError('KU_ERR_TARGET_UNKNOWN', `no agent named ${JSON.stringify(name)} is enrolled on this hub (never joined, or revoked)`);
        return { name, labels };
      });
    }
    if (req.selector) {
      let sel;
      try {
        sel = parseSelector(req.selector);
      } catch (e) {
        throw new KuError('KU_ERR_INVALID_PARAMS', (e as Error).message);
      }
      const out = [...known].filter(([, labels]) => matches(sel, labels)).map(([name, labels]) => ({ name, labels }));
      if (out.length === 0) throw new KuError('KU_ERR_NO_TARGET', `no agent matches selector ${JSON.stringify(req.selector)}`);
      return out;
    }
    const offering = deps.registry.all().filter((s) => s.ops.has(spec.name));
    if (offering.length === 0) throw new KuError('KU_ERR_NO_TARGET', `no connected agent offers ${spec.name}`);
    if (offering.length > 1) {
      const names = offering.map((s) => s.name).sort();
      throw new KuError('KU_ERR_AMBIGUOUS_TARGET', `${names.length} agents offer ${spec.name}: ${names.join(', ')}; choose with --host or --selector`, { hosts: names });
    }
    return [{ name: offering[0]!.name, labels: offering[0]!.labels }];
  }

  async function runOne(
    call: grpc.ServerWritableStream<RunRequest, RunEvent>,
    ctx: { caller: Caller; role: string; policy: Policy; spec: OpSpec; params: unknown; paramsJson: string; timeoutMs: number; session: string },
    target: Target,
    cancels: Set<(reason: string) => void>,
  ): Promise<boolean> {
    const { caller, spec } = ctx;
    const write = (ev: Omit<RunEvent, 'host' | 'op'>): void => {
      if (!call.cancelled && !call.writableEnded) call.write({ host: target.name, op: spec.name, ...ev });
    };
    const fail = (err: KuError | KuErrorBody, auditId: string, durationMs = 0): void => {
      const e = err instanceof KuError ? err : KuError.fromBody(err);
      write({ result: { ok: false, data_json: '', error: errorToWire(e), duration_ms: durationMs, audit_id: auditId } });
    };
    const base = { principal: caller.name, ...(ctx.session ? { session: ctx.session } : {}), op: spec.name, params: ctx.params, target: target.name };
    try {
      ctx.policy.authorize(ctx.role, spec, target.name, target.labels);
      const s = deps.registry.get(target.name);
      if (!s) throw new KuError('KU_ERR_AGENT_OFFLINE', `agent ${target.name} is not connected`);
      if (!s.ops.has(spec.name)) throw new KuError('KU_ERR_OP_NOT_ALLOWED', `agent ${target.name} does not enable ${spec.name} in its allowlist`);
      const intent = deps.audit.append({ kind: 'intent', ...base });
      const d = s.dispatch(
        { op: spec.name, paramsJson: ctx.paramsJson, timeoutMs: ctx.timeoutMs, principal: caller.name, auditId: intent.id },
        { onProgress: (json) => write({ progress: { json } }), onChunk: (json) => write({ chunk: { json } }) },
      );
      cancels.add(d.cancel);
      const outcome: OpOutcome = await d.outcome;
      cancels.delete(d.cancel);
      const auditResult = outcome.ok && spec.auditFields ? Object.fromEntries(spec.auditFields.map((f) => [f, (outcome.data as Record<string, unknown>)?.[f] ?? null])) : undefined;
      deps.audit.append({ kind: 'outcome', id: intent.id, ...base, params: undefined, ok: outcome.ok, code: outcome.ok ? null : outcome.error.code, durationMs: outcome.durationMs, ...(auditResult ? { result: auditResult } : {}) });
      deps.log.info({ principal: caller.name, op: spec.name, host: target.name, ok: outcome.ok, code: outcome.ok ? undefined : outcome.error.code, durationMs: outcome.durationMs }, 'op completed');
      if (outcome.ok) write({ result: { ok: true, data_json: JSON.stringify(outcome.data), error: null, duration_ms: outcome.durationMs, audit_id: intent.id } });
      else fail(outcome.error, intent.id, outcome.durationMs);
      return outcome.ok;
    } catch (e) {
      const err = asKuError(e);
      const rec = deps.audit.append({ kind: 'refused', ...base, ok: false, code: err.code });
      deps.log.info({ principal: caller.name, op: spec.name, host: target.name, code: err.code }, 'op refused');
      fail(err, rec.id);
      return false;
    }
  }

  async function run(call: grpc.ServerWritableStream<RunRequest, RunEvent>): Promise<void> {
    const req = call.request;
    let who: ReturnType<typeof principalOf>;
    try {
      who = principalOf(call);
    } catch (e) {
      refuse(call, asKuError(e), deps.auth.peek(call)?.name ?? null, req);
      return;
    }
    const spec = deps.catalogue.get(req.op);
    if (!spec) return refuse(call, new KuError('KU_ERR_UNKNOWN_OP', `unknown operation ${JSON.stringify(req.op)}`), who.caller.name, req);
    if (Buffer.byteLength(req.params_json) > MAX_PARAMS_BYTES) {
      return refuse(call, new KuError('KU_ERR_PAYLOAD_TOO_LARGE', `params are ${Buffer.byteLength(req.params_json)} bytes; the limit is ${MAX_PARAMS_BYTES}`), who.caller.name, req);
    }
    let raw: unknown;
    try {
      raw = req.params_json ? JSON.parse(req.params_json) : {};
    } catch {
      return refuse(call, new KuError('KU_ERR_INVALID_PARAMS', 'params are not valid JSON'), who.caller.name, req);
    }
    const parsed = spec.params.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return refuse(call, new KuError('KU_ERR_INVALID_PARAMS', issues.map((i) => `${i.path || '(params)'}: ${i.message}`).join('; '), { issues }), who.caller.name, req, raw);
    }
    let targets: Target[];
    try {
      targets = resolveTargets(spec, req);
    } catch (e) {
      return refuse(call, asKuError(e), who.caller.name, req, parsed.data);
    }
    const timeoutMs = Math.min(req.timeout_ms || spec.timeoutMs, deps.state.config.maxRunTimeoutMs);
    // Fan-out controls: mutating ops need an explicit concurrency; roles may cap the fan-out size.
    let concurrency = targets.length;
    let maxErrors = Infinity;
    try {
      if (targets.length > 1 && spec.mutates && !req.max_concurrency) {
        throw new KuError('KU_ERR_FANOUT_NEEDS_CONCURRENCY', `${spec.name} changes hosts: running it on ${targets.length} targets needs --max-concurrency`);
      }
      who.policy.checkFanout(who.role, spec, targets.length);
      if (req.max_concurrency) concurrency = Math.max(1, parseShare(req.max_concurrency, targets.length, 'max-concurrency'));
      if (req.max_errors) maxErrors = parseShare(req.max_errors, targets.length, 'max-errors');
    } catch (e) {
      const err = e instanceof KuError ? e : new KuError('KU_ERR_INVALID_PARAMS', (e as Error).message);
      return refuse(call, err, who.caller.name, req, parsed.data);
    }
    const cancels = new Set<(reason: string) => void>();
    let stopped = false;
    const abort = (err: KuError): void => {
      stopped = true;
      for (const c of [...cancels]) c(err.message);
      call.emit('error', toGrpcError(err));
    };
    live.set(call, { serial: who.caller.serial, abort });
    call.on('cancelled', () => {
      stopped = true; // no new starts; the running ones are cancelled
      for (const c of [...cancels]) c('caller cancelled');
    });
    if (!call.cancelled) call.write({ host: '', op: spec.name, plan: { hosts: targets.map((t) => t.name) } });
    try {
      const ctx = { ...who, spec, params: parsed.data, paramsJson: JSON.stringify(parsed.data), timeoutMs, session: req.session };
      let errors = 0;
      let next = 0;
      await new Promise<void>((resolve) => {
        let active = 0;
        const pump = (): void => {
          while (!stopped && active < concurrency && next < targets.length) {
            const t = targets[next++]!;
            active++;
            void runOne(call, ctx, t, cancels).then((ok) => {
              active--;
              if (!ok && ++errors > maxErrors) stopped = true;
              pump();
            });
          }
          if (active === 0 && (stopped || next >= targets.length)) resolve();
        };
        pump();
      });
      // Targets never started are reported, never silently missing.
      for (const t of targets.slice(next)) {
        const why = call.cancelled ? 'the caller cancelled the run' : `more than ${maxErrors} targets failed (--max-errors)`;
        const err = new KuError('KU_ERR_NOT_STARTED', `not started: ${why}`);
        const rec = deps.audit.append({ kind: 'refused', principal: who.caller.name, ...(req.session ? { session: req.session } : {}), op: spec.name, params: parsed.data, target: t.name, ok: false, code: err.code });
        if (!call.cancelled && !call.writableEnded) call.write({ host: t.name, op: spec.name, result: { ok: false, data_json: '', error: errorToWire(err), duration_ms: 0, audit_id: rec.id } });
      }
    } finally {
      live.delete(call);
      if (!call.cancelled && !call.writableEnded) call.end();
    }
  }

  function listAgents(call: grpc.ServerUnaryCall<ListAgentsRequest, { agents: AgentInfo[] }>, cb: grpc.sendUnaryData<{ agents: AgentInfo[] }>): void {
    try {
      principalOf(call);
      const sel = call.request.selector ? parseSelector(call.request.selector) : null;
      const agents: AgentInfo[] = enrolledAgents()
        .filter((a) => !sel || matches(sel, a.labels))
        .map((a) => {
          const s = deps.registry.get(a.name);
          return {
            name: a.name,
            labels: a.labels,
            version: s?.version ?? '',
            ops: s ? [...s.ops.keys()].sort() : [],
            connected: !!s,
            connected_since_ms: s?.connectedSince ?? 0,
            last_heartbeat_ms: s?.lastHeartbeat ?? 0,
            hostname: s?.hostname ?? '',
            cert_not_after_ms: s?.certNotAfter ?? 0,
          };
        })
        .sort((x, y) => x.name.localeCompare(y.name));
      cb(null, { agents });
    } catch (e) {
      cb(toGrpcError(e instanceof KuError ? e : new KuError('KU_ERR_INVALID_PARAMS', (e as Error).message)));
    }
  }

  function auditQuery(call: grpc.ServerUnaryCall<AuditQueryRequest, { records_json: string[] }>, cb: grpc.sendUnaryData<{ records_json: string[] }>): void {
    try {
      const { caller, role, policy } = principalOf(call);
      // Reading others' records needs a role that covers the pseudo-op hub.audit.
      let mayReadAll = true;
      try {
        policy.authorize(role, { name: 'hub.audit', mutates: false } as OpSpec, 'hub', {});
      } catch {
        mayReadAll = false;
      }
      const principal = mayReadAll ? call.request.principal || undefined : caller.name;
      const records = readAudit(deps.state.path(HUB_FILES.audit), { limit: Math.min(call.request.limit || 50, 1000), ...(call.request.op ? { op: call.request.op } : {}), ...(principal ? { principal } : {}) });
      cb(null, { records_json: records.map((r) => JSON.stringify(r)) });
    } catch (e) {
      cb(toGrpcError(asKuError(e)));
    }
  }

  function whoAmI(call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>): void {
    try {
      const { caller, role } = principalOf(call);
      cb(null, { kind: caller.kind, name: caller.name, role, not_after_ms: caller.notAfter.getTime() });
    } catch (e) {
      cb(toGrpcError(asKuError(e)));
    }
  }

  /** Cut live Run calls of revoked principals and cancel their operations. */
  function cutPrincipal(serials: Set<string>): void {
    for (const [, l] of live) if (serials.has(l.serial)) l.abort(new KuError('KU_ERR_AUTH_REVOKED', 'principal revoked while the call ran'));
  }

  return {
    impl: {
      Run: (call: grpc.ServerWritableStream<RunRequest, RunEvent>) => void run(call),
      ListAgents: listAgents,
      AuditQuery: auditQuery,
      WhoAmI: whoAmI,
    } as grpc.UntypedServiceImplementation,
    cutPrincipal,
  };
}
