/**
 * Who a certificate says it is. A ku certificate carries one URI SAN
 * `ku://KIND/NAME`; the kind separates agents, principals and the hub, so an
 * agent certificate can never act as a principal and the reverse. Uses only
 * node:crypto so that CLIs start fast.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KuError } from '../proto/errors.js';

export const IDENTITY_KINDS = ['hub', 'agent', 'principal'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/** Names of agents and principals: DNS-label-like, safe in paths, logs and URIs. */
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

/** The SAN URI for an identity. */
export function identityUri(kind: IdentityKind, name: string): string {
  if (!NAME_RE.test(name)) throw new KuError('KU_ERR_INVALID_PARAMS', `invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-' (max 63)`);
  return `ku://${kind}/${name}`;
}

/** What a certificate identifies. */
export interface CertIdentity {
  kind: IdentityKind;
  name: string;
  serial: string;
  notAfter: Date;
  notBefore: Date;
}

/** Read the ku identity from a certificate; null when it carries none. */
export function identityOf(cert: X509Certificate): CertIdentity | null {
  const san = cert.subjectAltName ?? '';
  for (const part of san.split(/,\s*/)) {
    const m = /^URI:ku:\/\/(hub|agent|principal)\/([^/\s]+)$/.exec(part);
    if (m && NAME_RE.test(m[2]!)) {
      return {
        kind: m[1] as IdentityKind,
        name: m[2]!,
        serial: cert.serialNumber.toLowerCase().replace(/^0+/, ''),
        notAfter: new Date(cert.validTo),
        notBefore: new Date(cert.validFrom),
      };
    }
  }
  return null;
}

/** Normalize a serial as node prints it (uppercase hex, maybe leading zeros). */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, '');
}

/** A client identity on disk: the CA to trust and our certificate and key. */
export interface IdentityFiles {
  caPem: string;
  certPem: string;
  keyPem: string;
  identity: CertIdentity;
}

/** File names inside an identity directory (principals and agents alike). */
export const IDENTITY_FILES = { ca: 'ca.crt', cert: 'client.crt', key: 'client.key', meta: 'ku.json' } as const;

/** Load an identity directory; clear errors for every missing piece. */
export function loadIdentityDir(dir: string): IdentityFiles {
  const read = (f: string): string => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      throw new KuError('KU_ERR_IDENTITY_MISSING', `identity directory ${dir} has no readable ${f}`);
    }
  };
  const caPem = read(IDENTITY_FILES.ca);
  const certPem = read(IDENTITY_FILES.cert);
  const keyPem = read(IDENTITY_FILES.key);
  const identity = identityOf(new X509Certificate(certPem));
  if (!identity) throw new KuError('KU_ERR_IDENTITY_MISSING', `${join(dir, IDENTITY_FILES.cert)} is not a ku identity certificate`);
  return { caPem, certPem, keyPem, identity };
}

/**
 * TLS server check used by every ku client: the peer must hold a hub
 * certificate (URI SAN ku://hub/...) from the pinned CA. Host names are not
 * used, so hubs can move between addresses; agent certificates from the same
 * CA cannot impersonate the hub.
 */
export function checkHubIdentity(_host: string, cert: { subjectaltname?: string }): Error | undefined {
  const san = cert.subjectaltname ?? '';
  if (/(^|,\s*)URI:ku:\/\/hub\/[^,\s]+/.test(san)) return undefined;
  return new Error('KU_ERR_HUB_UNTRUSTED: server certificate is not a ku hub certificate');
}
