/**
 * `ku-agent join`: verify the hub against the CA pin in the token, then trade
 * the token and a CSR (the key is made here and never leaves the host) for a
 * certificate.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { KuError } from '../proto/errors.js';
import type { JoinRequest, JoinResponse } from '../proto/wire.js';
import { fromGrpcError, CLIENT_OPTIONS, kuPackage } from '../runtime/grpc.js';
import { checkHubIdentity, NAME_RE } from '../runtime/identity.js';
import { parseJoinToken } from '../runtime/join-token.js';
import { createCsr, generateKeyPair, privateKeyToPem } from '../runtime/pki.js';
import { KU_VERSION } from '../runtime/version.js';
import { AgentState } from './state.js';

function splitAddress(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new KuError('KU_ERR_USAGE', `invalid hub address ${JSON.stringify(addr)}: use HOST:PORT`);
  return { host: addr.slice(0, i), port };
}

/** Fetch the hub's certificate chain without trusting it, and return the CA that matches the pin. */
export async function fetchPinnedCa(hub: string, pin: string, timeoutMs = 10_000): Promise<string> {
  const { host, port } = splitAddress(hub);
  const chain = await new Promise<DetailedPeerCertificate>((resolve, reject) => {
    const sock = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new KuError('KU_ERR_HUB_UNREACHABLE', `no TLS answer from ${hub} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const c = sock.getPeerCertificate(true);
      sock.destroy();
      resolve(c);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(new KuError('KU_ERR_HUB_UNREACHABLE', `cannot reach hub ${hub}: ${e.message}`));
    });
  });
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = chain; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    if (createHash('sha256').update(c.raw).digest('base64url') === pin) {
      const ca = new X509Certificate(c.raw);
      const leaf = new X509Certificate(chain.raw);
      if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw new KuError('KU_ERR_HUB_UNTRUSTED', 'hub certificate is not signed by the pinned CA');
      return ca.toString();
    }
  }
  throw new KuError('KU_ERR_HUB_UNTRUSTED', `the server at ${hub} does not present the CA pinned in the token`);
}

export interface JoinOptions {
  hub: string;
  token: string;
  stateDir: string;
  name?: string;
  force?: boolean;
}

/** Join a hub; writes the agent state directory. */
export async function joinHub(opts: JoinOptions): Promise<{ name: string; labels: Record<string, string> }> {
  const state = new AgentState(opts.stateDir);
  if (state.joined && !opts.force) throw new KuError('KU_ERR_STATE_INVALID', `${opts.stateDir} already holds a joined agent; use --force to join again`);
  const { pin } = parseJoinToken(opts.token);
  const name = opts.name ?? hostname().split('.')[0]!;
  if (!NAME_RE.test(name)) throw new KuError('KU_ERR_USAGE', `invalid agent name ${JSON.stringify(name)}; pass --name`);
  const caPem = await fetchPinnedCa(opts.hub, pin);
  const keys = await generateKeyPair();
  const csrPem = await createCsr(keys, name);
  const pkg = kuPackage();
  const creds = grpc.credentials.createSsl(Buffer.from(caPem), null, null, { checkServerIdentity: checkHubIdentity });
  const client = new pkg.Enroll(opts.hub, creds, CLIENT_OPTIONS);
  try {
    const res = await new Promise<JoinResponse>((resolve, reject) => {
      const req: JoinRequest = { token: opts.token, csr_pem: csrPem, name, version: KU_VERSION };
      (client as unknown as { Join: (r: JoinRequest, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: JoinResponse) => void) => void }).Join(
        req,
        { deadline: Date.now() + 30_000 },
        (e, r) => (e ? reject(fromGrpcError(e)) : resolve(r)),
      );
    });
    state.saveJoin({ hub: opts.hub, name: res.name, labels: res.labels, joinedAt: new Date().toISOString() }, caPem, await privateKeyToPem(keys.privateKey), res.cert_pem);
    return { name: res.name, labels: res.labels };
  } finally {
    client.close();
  }
}
