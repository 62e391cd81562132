/**
 * Authentication of every connection to the hub.
 *
 * The hub terminates TLS itself (TLS 1.3, client certificate requested and
 * checked against its CA) and hands the decrypted connection to gRPC. Checking
 * the certificate here rather than inside OpenSSL's handshake lets every
 * refusal carry its own error code (no certificate, another CA, expired,
 * revoked, wrong kind) and lets the enrollment call, the only one open to a
 * caller without a certificate, share the port, as Teleport's auth service
 * does. Every other RPC calls `require()` before doing anything.
 */
import { X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { createServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { KuError } from '../proto/errors.js';
import { identityOf, type CertIdentity, type IdentityKind } from '../runtime/identity.js';
import type { Logger } from '../runtime/log.js';
import { HUB_FILES, type HubState } from './state.js';

/** What a connection proved about itself at the TLS layer. */
interface ConnInfo {
  socket: TLSSocket;
  identity: CertIdentity | null;
  /** Why the certificate is not acceptable (checked before any kind check). */
  refusal: KuError | null;
}

/** An authenticated caller. */
export interface Caller extends CertIdentity {
  key: string;
}

function classify(socket: TLSSocket): Omit<ConnInfo, 'socket'> {
  const cert = socket.getPeerX509Certificate() as X509Certificate | undefined;
  if (!cert) return { identity: null, refusal: new KuError('KU_ERR_AUTH_NO_CERT', 'no client certificate presented') };
  if (!socket.authorized) {
    const why = String(socket.authorizationError ?? 'unknown');
    if (why === 'CERT_HAS_EXPIRED' || why === 'CERT_NOT_YET_VALID') {
      return { identity: null, refusal: new KuError('KU_ERR_AUTH_CERT_EXPIRED', `client certificate is not valid now (${why}, valid ${cert.validFrom} to ${cert.validTo})`) };
    }
    return { identity: null, refusal: new KuError('KU_ERR_AUTH_UNTRUSTED_CERT', `client certificate was not issued by this hub's CA (${why})`) };
  }
  const identity = identityOf(cert);
  if (!identity || identity.kind === 'hub') return { identity: null, refusal: new KuError('KU_ERR_AUTH_BAD_CERT', 'client certificate carries no ku agent or principal identity') };
  return { identity, refusal: null };
}

/** The hub's TLS front door plus the per-connection identity table. */
export class Authenticator {
  private readonly conns = new Map<string, ConnInfo>();
  private revoked: Set<string>;
  private watcher: FSWatcher | null = null;
  private readonly listeners = new Set<(revoked: Set<string>) => void>();
  private stamp: number;

  constructor(
    private readonly state: HubState,
    private readonly log: Logger,
  ) {
    this.revoked = state.revokedSerials();
    this.stamp = state.revocationStamp();
  }

  /** Create the TLS server that feeds accepted connections to `inject`. */
  createTlsServer(inject: (socket: TLSSocket) => void): TlsServer {
    const { keyPem, certChainPem } = this.state.hubKeyPair();
    const server = createServer({
      key: keyPem,
      cert: certChainPem,
      ca: this.state.caPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const key = `${socket.remoteAddress}:${socket.remotePort}`;
      const info: ConnInfo = { socket, ...classify(socket) };
      this.conns.set(key, info);
      socket.once('close', () => {
        if (this.conns.get(key) === info) this.conns.delete(key);
      });
      socket.on('error', (e) => this.log.debug({ err: e.message }, 'connection error'));
      inject(socket);
    });
    server.on('tlsClientError', (e) => this.log.debug({ err: e.message }, 'TLS handshake failed'));
    return server;
  }

  /** Watch the revocation directory so that a revoke cuts live streams at once. */
  watchRevocations(): void {
    try {
      this.watcher = watch(this.state.path(HUB_FILES.revoked), () => this.refreshRevocations());
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot watch revocations; checked per call only');
    }
  }

  /** Re-read revocations when the directory changed; notify listeners of the new set. */
  refreshRevocations(): void {
    const stamp = this.state.revocationStamp();
    const next = this.state.revokedSerials();
    const changed = stamp !== this.stamp || next.size !== this.revoked.size;
    this.stamp = stamp;
    this.revoked = next;
    if (changed) for (const l of this.listeners) l(next);
  }

  onRevocation(listener: (revoked: Set<string>) => void): void {
    this.listeners.add(listener);
  }

  isRevoked(serial: string): boolean {
    return this.revoked.has(serial);
  }

  /**
   * The caller of an RPC, or a KuError that says exactly why it is refused.
   * `kinds` are the identity kinds this RPC accepts.
   */
  require(call: ServerSurfaceCall, kinds: readonly IdentityKind[]): Caller {
    // getPeer() is `${remoteAddress}:${remotePort}` of the socket we injected: the table key.
    const key = call.getPeer();
    const info = this.conns.get(key);
    if (!info) throw new KuError('KU_ERR_AUTH_NO_CERT', 'connection did not complete mutual TLS');
    if (info.refusal) throw info.refusal;
    const id = info.identity!;
    if (this.state.revocationStamp() !== this.stamp) this.refreshRevocations();
    if (this.revoked.has(id.serial)) throw new KuError('KU_ERR_AUTH_REVOKED', `${id.kind} ${id.name} has been revoked`);
    if (id.notAfter.getTime() <= Date.now()) throw new KuError('KU_ERR_AUTH_CERT_EXPIRED', `certificate of ${id.kind} ${id.name} expired at ${id.notAfter.toISOString()}`);
    if (!kinds.includes(id.kind)) {
      throw new KuError('KU_ERR_AUTH_WRONG_KIND', `a ${id.kind} certificate cannot call this API (it takes ${kinds.join(' or ')})`);
    }
    return { ...id, key };
  }

  /** What a connection proved, for RPCs open to callers without certificates (enrollment). */
  peek(call: ServerSurfaceCall): CertIdentity | null {
    return this.conns.get(call.getPeer())?.identity ?? null;
  }

  /** Close every connection that authenticated with one of these serials. */
  destroyConnections(serials: Set<string>): number {
    let n = 0;
    for (const info of this.conns.values()) {
      if (info.identity && serials.has(info.identity.serial)) {
        info.socket.destroy();
        n++;
      }
    }
    return n;
  }

  close(): void {
    this.watcher?.close();
    for (const info of this.conns.values()) info.socket.destroy();
    this.conns.clear();
  }
}
