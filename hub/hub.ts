/**
 * buildHub: the whole hub as an object with start/close, so that `ku-hub
 * start`, `ku dev` and the tests run exactly the same thing (tests on port 0).
 */
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { catalogue as defaultCatalogue, type Catalogue } from '../proto/catalogue/index.js';
import { KuError } from '../proto/errors.js';
import { GRPC_OPTIONS, kuPackage } from '../runtime/grpc.js';
import { silentLogger, type Logger } from '../runtime/log.js';
import { AuditLog } from './audit.js';
import { Authenticator } from './authn.js';
import { controlService } from './control.js';
import { enrollService } from './enroll.js';
import { agentLinkService } from './link.js';
import { Registry } from './registry.js';
import { HUB_FILES, HubState } from './state.js';

export interface HubDeps {
  log?: Logger;
  /** Operation catalogue; tests may add their own specs. */
  catalogue?: Catalogue;
  /** Overrides hub.json's listen address (tests use 127.0.0.1:0). */
  listen?: string;
}

export interface Hub {
  readonly state: HubState;
  readonly registry: Registry;
  /** Listen; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  /** Stop accepting, cut every stream, release the port. */
  close(): Promise<void>;
  readonly address: string;
}

/** Build a hub over an initialized state directory. */
export function buildHub(stateDir: string, deps: HubDeps = {}): Hub {
  const state = HubState.open(stateDir);
  const log = deps.log ?? silentLogger();
  const registry = new Registry();
  const audit = new AuditLog(state.path(HUB_FILES.audit), state.path(HUB_FILES.auditHead), state.config.auditFsync);
  const auth = new Authenticator(state, log.child({ c: 'authn' }));
  const pkg = kuPackage();
  const server = new grpc.Server(GRPC_OPTIONS);
  const catalogue = deps.catalogue ?? defaultCatalogue;
  const control = controlService({ state, auth, registry, audit, catalogue, log: log.child({ c: 'control' }) });
  server.addService(pkg.Enroll.service, enrollService({ state, audit, log: log.child({ c: 'enroll' }) }));
  server.addService(pkg.AgentLink.service, agentLinkService({ state, auth, registry, audit, log: log.child({ c: 'link' }) }));
  server.addService(pkg.Control.service, control.impl);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const tls = auth.createTlsServer((socket) => injector.injectConnection(socket));

  // Revocation takes effect at once: live streams of revoked identities are cut.
  auth.onRevocation((revoked) => {
    const cut = registry.all().filter((s) => [...s.serials].some((x) => revoked.has(x)));
    for (const s of cut) {
      registry.remove(s);
      s.close(new KuError('KU_ERR_AUTH_REVOKED', `agent ${s.name} has been revoked`));
      audit.append({ kind: 'event', principal: null, op: 'hub.revoke', target: s.name, ok: true, detail: { kind: 'agent' } });
      log.warn({ agent: s.name }, 'revoked agent disconnected');
    }
    control.cutPrincipal(revoked);
    // Let the error statuses go out, then drop the connections themselves.
    setTimeout(() => auth.destroyConnections(revoked), 200).unref();
  });

  // Agents that stop sending heartbeats are dropped after three intervals.
  const hbMs = state.config.heartbeatIntervalMs;
  let sweeper: NodeJS.Timeout | null = null;

  const listen = deps.listen ?? state.config.listen;
  const sep = listen.lastIndexOf(':');
  const host = listen.slice(0, sep);
  const port = Number(listen.slice(sep + 1));
  let bound = { host, port };
  let closed = false;

  return {
    state,
    registry,
    get address() {
      return `${bound.host}:${bound.port}`;
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        tls.once('error', reject);
        tls.listen(port, host, () => {
          tls.off('error', reject);
          resolve();
        });
      });
      bound = { host, port: (tls.address() as AddressInfo).port };
      auth.watchRevocations();
      sweeper = setInterval(() => {
        const now = Date.now();
        const limit = now - 3 * hbMs;
        for (const s of registry.all()) {
          if (s.certNotAfter <= now) {
            registry.remove(s);
            s.close(new KuError('KU_ERR_AUTH_CERT_EXPIRED', `certificate of agent ${s.name} expired without renewal`));
            log.warn({ agent: s.name }, 'agent certificate expired; dropped');
          } else if (s.lastHeartbeat < limit) {
            registry.remove(s);
            s.close(new KuError('KU_ERR_AGENT_DISCONNECTED', 'no heartbeat for three intervals'));
            log.warn({ agent: s.name }, 'agent missed heartbeats; dropped');
          }
        }
      }, hbMs);
      sweeper.unref();
      log.info({ address: `${bound.host}:${bound.port}`, version: (await import('../runtime/version.js')).KU_VERSION }, 'hub listening');
      return bound;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweeper) clearInterval(sweeper);
      for (const s of registry.all()) {
        registry.remove(s);
        s.close(new KuError('KU_ERR_AGENT_DISCONNECTED', 'hub shutting down'));
      }
      await new Promise<void>((resolve) => {
        tls.close(() => resolve());
        auth.close();
        injector.destroy();
      });
      server.forceShutdown();
      audit.close();
    },
  };
}
