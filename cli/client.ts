/**
 * The CLI's connection to the hub's control API over mTLS. Loaded only when a
 * command actually calls the hub, so that --help stays fast.
 */
import * as grpc from '@grpc/grpc-js';
import { KuError } from '../proto/errors.js';
import type { AgentInfo, AuditQueryRequest, RunEvent, RunRequest, WhoAmIResponse } from '../proto/wire.js';
import { fromGrpcError, CLIENT_OPTIONS, kuPackage } from '../runtime/grpc.js';
import { checkHubIdentity, loadIdentityDir } from '../runtime/identity.js';
import type { CliSettings } from './settings.js';

type Unary<Req, Res> = (req: Req, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: Res) => void) => void;
interface ControlStub {
  Run(req: RunRequest, opts: grpc.CallOptions): grpc.ClientReadableStream<RunEvent>;
  ListAgents: Unary<{ selector: string }, { agents: AgentInfo[] }>;
  AuditQuery: Unary<AuditQueryRequest, { records_json: string[] }>;
  WhoAmI: Unary<object, WhoAmIResponse>;
  close(): void;
}

/** Turn transport failures into the ku error that says what happened. */
function transportError(e: unknown, hub: string): KuError {
  const err = fromGrpcError(e);
  if (err.code === 'KU_ERR_HUB_UNREACHABLE') {
    const d = err.message;
    if (/KU_ERR_HUB_UNTRUSTED|self[- ]signed|unable to verify|certificate signature/i.test(d)) return new KuError('KU_ERR_HUB_UNTRUSTED', `the server at ${hub} is not the hub your identity trusts: ${d}`);
    return new KuError('KU_ERR_HUB_UNREACHABLE', `cannot reach hub at ${hub}: ${d}`);
  }
  return err;
}

export class HubClient {
  private readonly stub: ControlStub;
  constructor(readonly settings: CliSettings) {
    const id = loadIdentityDir(settings.identityDir);
    const creds = grpc.credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem), { checkServerIdentity: checkHubIdentity });
    this.stub = new (kuPackage().Control)(settings.hub, creds, CLIENT_OPTIONS) as unknown as ControlStub;
  }

  private unary<Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs = 15_000): Promise<Res> {
    return new Promise((resolve, reject) =>
      fn.call(this.stub, req, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(transportError(e, this.settings.hub)) : resolve(r))),
    );
  }

  listAgents(selector = ''): Promise<AgentInfo[]> {
    return this.unary(this.stub.ListAgents, { selector }).then((r) => r.agents);
  }

  audit(q: AuditQueryRequest): Promise<unknown[]> {
    return this.unary(this.stub.AuditQuery, q).then((r) => r.records_json.map((j) => JSON.parse(j) as unknown));
  }

  whoAmI(): Promise<WhoAmIResponse> {
    return this.unary(this.stub.WhoAmI, {});
  }

  /**
   * Run an op; `onEvent` sees every event as it arrives. Resolves when the
   * stream ends; rejects with a KuError when the hub refuses the whole call.
   */
  run(req: RunRequest, onEvent: (ev: RunEvent) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const call = this.stub.Run(req, { deadline: Date.now() + (req.timeout_ms || 3_600_000) + 10_000 });
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', onEvent);
      call.on('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(transportError(e, this.settings.hub));
      });
      call.on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  close(): void {
    this.stub.close();
  }
}
