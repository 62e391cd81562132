/**
 * Enroll.Join: a one-time, expiring, label-bound token plus a CSR made on the
 * agent's host buy an agent certificate. The CSR and name are checked before
 * the token is consumed, so a malformed request does not burn a token.
 */
import type * as grpc from '@grpc/grpc-js';
import { KuError } from '../proto/errors.js';
import type { JoinRequest, JoinResponse } from '../proto/wire.js';
import { toGrpcError } from '../runtime/grpc.js';
import { NAME_RE } from '../runtime/identity.js';
import type { Logger } from '../runtime/log.js';
import { verifyCsr } from '../runtime/pki.js';
import { parseJoinToken } from '../runtime/join-token.js';
import type { AuditLog } from './audit.js';
import type { HubState } from './state.js';

export interface EnrollDeps {
  state: HubState;
  audit: AuditLog;
  log: Logger;
}

/** Build the Enroll service implementation. */
export function enrollService(deps: EnrollDeps): grpc.UntypedServiceImplementation {
  return {
    Join: (call: grpc.ServerUnaryCall<JoinRequest, JoinResponse>, cb: grpc.sendUnaryData<JoinResponse>) => {
      join(deps, call.request).then(
        (res) => cb(null, res),
        (e: unknown) => {
          const err = e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', String(e));
          deps.audit.append({ kind: 'refused', principal: null, op: 'hub.join', target: typeof call.request.name === 'string' ? call.request.name.slice(0, 63) : null, ok: false, code: err.code });
          deps.log.warn({ code: err.code, agent: call.request.name?.slice(0, 63) }, 'join refused');
          cb(toGrpcError(err));
        },
      );
    },
  };
}

async function join(deps: EnrollDeps, req: JoinRequest): Promise<JoinResponse> {
  const { state, audit, log } = deps;
  const { id } = parseJoinToken(req.token);
  if (!NAME_RE.test(req.name)) throw new KuError('KU_ERR_INVALID_PARAMS', `invalid agent name ${JSON.stringify(req.name.slice(0, 80))}: letters, digits, '.', '_', '-' (max 63)`);
  if (req.csr_pem.length > 16_384) throw new KuError('KU_ERR_PAYLOAD_TOO_LARGE', 'CSR larger than 16 KiB');
  await verifyCsr(req.csr_pem).catch((e: Error) => {
    throw new KuError('KU_ERR_INVALID_PARAMS', e.message);
  });
  state.enrollAgent(req.name, {}, id); // name check before the token is consumed
  const token = state.consumeToken(req.token);
  const rec = state.enrollAgent(req.name, token.labels, token.id);
  const issued = await state.issueAgentCert(req.name, req.csr_pem, rec);
  audit.append({ kind: 'event', principal: null, op: 'hub.join', target: req.name, ok: true, detail: { labels: token.labels, tokenId: token.id, version: req.version } });
  log.info({ agent: req.name, labels: token.labels }, 'agent joined');
  return { cert_pem: issued.certPem, ca_pem: state.caPem, name: req.name, labels: token.labels };
}
