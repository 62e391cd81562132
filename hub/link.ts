/**
 * The hub side of the agent link (AgentLink.Connect): authenticate the agent,
 * wait for its Hello, register the session, then route heartbeats, operation
 * events and certificate renewals until the stream ends.
 */
import type * as grpc from '@grpc/grpc-js';
import { KuError } from '../proto/errors.js';
import type { AgentMessage, HubMessage } from '../proto/wire.js';
import { errorToWire, toGrpcError } from '../runtime/grpc.js';
import { normalizeSerial } from '../runtime/identity.js';
import type { Logger } from '../runtime/log.js';
import type { AuditLog } from './audit.js';
import type { Authenticator } from './authn.js';
import { AgentSession, type Registry } from './registry.js';
import type { HubState } from './state.js';

const HELLO_TIMEOUT_MS = 10_000;

/** Dependencies of the link handler. */
export interface LinkDeps {
  state: HubState;
  auth: Authenticator;
  registry: Registry;
  audit: AuditLog;
  log: Logger;
}

/** Build the AgentLink service implementation. */
export function agentLinkService(deps: LinkDeps): grpc.UntypedServiceImplementation {
  return {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage, HubMessage>) => connect(deps, call),
  };
}

function connect(deps: LinkDeps, call: grpc.ServerDuplexStream<AgentMessage, HubMessage>): void {
  const { state, auth, registry, log } = deps;
  let caller;
  try {
    caller = auth.require(call, ['agent']);
  } catch (e) {
    const err = e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', String(e));
    log.warn({ code: err.code, peer: call.getPeer() }, 'agent connection refused');
    call.emit('error', toGrpcError(err));
    return;
  }
  const record = state.agent(caller.name);
  if (!record) {
    call.emit('error', toGrpcError(new KuError('KU_ERR_AUTH_BAD_CERT', `agent ${caller.name} is not enrolled on this hub`)));
    return;
  }
  const alog = log.child({ agent: caller.name });
  let session: AgentSession | null = null;
  const helloTimer = setTimeout(() => {
    if (!session) call.emit('error', toGrpcError(new KuError('KU_ERR_USAGE', 'no Hello within 10 s')));
  }, HELLO_TIMEOUT_MS);

  call.on('data', (msg: AgentMessage) => {
    if (!session) {
      if (msg.msg !== 'hello' || !msg.hello) {
        call.emit('error', toGrpcError(new KuError('KU_ERR_USAGE', 'the first message on the agent link must be Hello')));
        return;
      }
      clearTimeout(helloTimer);
      const ops = new Map(msg.hello.ops.map((o) => [o.name, o.limits_json] as const));
      session = new AgentSession(caller.name, record.labels, msg.hello.version, msg.hello.hostname, ops, caller.serial, caller.notAfter.getTime(), call);
      registry.add(session);
      call.write({
        welcome: {
          name: caller.name,
          labels: record.labels,
          heartbeat_interval_ms: state.config.heartbeatIntervalMs,
          cert_not_after_ms: caller.notAfter.getTime(),
        },
      });
      alog.info({ version: msg.hello.version, ops: [...ops.keys()] }, 'agent connected');
      return;
    }
    const s = session;
    switch (msg.msg) {
      case 'heartbeat':
        s.lastHeartbeat = Date.now();
        s.running = msg.heartbeat?.running ?? 0;
        break;
      case 'event':
        if (msg.event) s.onEvent(msg.event);
        break;
      case 'renew':
        void renew(deps, s, msg.renew?.csr_pem ?? '');
        break;
      default:
        alog.warn({ msg: msg.msg }, 'unexpected message on agent link');
    }
  });
  const end = (why: string): void => {
    clearTimeout(helloTimer);
    if (!session) return;
    registry.remove(session);
    session.close(new KuError('KU_ERR_AGENT_DISCONNECTED', why));
    alog.info({ why }, 'agent disconnected');
    session = null;
  };
  call.on('end', () => {
    end('stream ended');
    call.end();
  });
  call.on('error', (e: Error & { details?: string }) => end(`stream error: ${e.details ?? e.message}`));
  call.on('cancelled', () => end('stream cancelled'));
  call.on('close', () => end('stream closed'));
}

async function renew(deps: LinkDeps, s: AgentSession, csrPem: string): Promise<void> {
  const { state, auth, audit, log } = deps;
  try {
    if ([...s.serials].some((x) => auth.isRevoked(x))) throw new KuError('KU_ERR_AUTH_REVOKED', `agent ${s.name} has been revoked`);
    const rec = state.agent(s.name);
    if (!rec) throw new KuError('KU_ERR_AUTH_BAD_CERT', `agent ${s.name} is not enrolled`);
    const issued = await state.issueAgentCert(s.name, csrPem, rec);
    s.serials.add(normalizeSerial(issued.serial));
    s.certNotAfter = issued.notAfter.getTime();
    s.send({ renew: { cert_pem: issued.certPem } });
    audit.append({ kind: 'event', principal: null, op: 'hub.renew', target: s.name, ok: true, detail: { serial: normalizeSerial(issued.serial), notAfter: issued.notAfter.toISOString() } });
    log.info({ agent: s.name, notAfter: issued.notAfter.toISOString() }, 'agent certificate renewed');
  } catch (e) {
    const err = e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', String(e));
    s.send({ renew: { cert_pem: '', error: errorToWire(err) } });
    log.warn({ agent: s.name, code: err.code }, 'agent certificate renewal refused');
  }
}
