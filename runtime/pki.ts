/**
 * Certificate authority operations, on @peculiar/x509 (a maintained X.509
 * library over WebCrypto) rather than hand-written ASN.1. Used by the hub (CA,
 * issuing) and the agent (key and CSR on its own host). CLIs never load this.
 */
// @peculiar/x509 needs a Reflect metadata polyfill loaded before it.
import 'reflect-metadata';
import { createHash, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { identityUri, type IdentityKind } from './identity.js';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

/** PEM text always ends with a newline, so PEM blocks can be concatenated into chains. */
const nl = (pem: string): string => (pem.endsWith('\n') ? pem : `${pem}\n`);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Tolerated clock skew: certificates start this much in the past. */
export const SKEW_MS = 5 * 60_000;

/** A freshly made ECDSA P-256 key pair. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM of a private key. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return nl(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

async function privateKeyFromPem(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return crypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
}

/** Random 128-bit serial, positive. */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

/** Base64url SHA-256 of a certificate's DER: the CA pin carried in join tokens. */
export function certFingerprint(certPem: string): string {
  const der = x509.PemConverter.decodeFirst(certPem);
  return createHash('sha256').update(Buffer.from(der)).digest('base64url');
}

/** A new self-signed CA certificate and key. */
export async function createCa(commonName: string, ttlMs: number): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - SKEW_MS),
    notAfter: new Date(now + ttlMs),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: nl(cert.toString('pem')), keyPem: await privateKeyToPem(keys.privateKey) };
}

/** A PKCS#10 request for a key made on this host. */
export async function createCsr(keys: CryptoKeyPair, name: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: ALG,
  });
  return nl(csr.toString('pem'));
}

/** What to put in an issued certificate. */
export interface IssueParams {
  caCertPem: string;
  caKeyPem: string;
  kind: IdentityKind;
  name: string;
  /** The subject's public key: from a verified CSR, or a key pair made by the caller. */
  publicKey: CryptoKey | x509.PublicKey;
  ttlMs: number;
  /** Defaults to now minus the skew allowance. Tests set past dates to make expired certs. */
  notBefore?: Date;
  notAfter?: Date;
  dnsNames?: string[];
  ipAddresses?: string[];
}

/** Issue a certificate signed by the CA. Returns PEM, serial and expiry. */
export async function issueCert(p: IssueParams): Promise<{ certPem: string; serial: string; notAfter: Date }> {
  const ca = new x509.X509Certificate(p.caCertPem);
  const caKey = await privateKeyFromPem(p.caKeyPem);
  const now = Date.now();
  const notBefore = p.notBefore ?? new Date(now - SKEW_MS);
  const notAfter = p.notAfter ?? new Date(now + p.ttlMs);
  const serial = newSerial();
  const names: x509.JsonGeneralName[] = [{ type: 'url', value: identityUri(p.kind, p.name) }];
  for (const d of p.dnsNames ?? []) names.push({ type: 'dns', value: d });
  for (const ip of p.ipAddresses ?? []) names.push({ type: 'ip', value: ip });
  const eku = p.kind === 'hub' ? [x509.ExtendedKeyUsage.serverAuth] : [x509.ExtendedKeyUsage.clientAuth];
  const publicKey = p.publicKey instanceof x509.PublicKey ? await p.publicKey.export(ALG, ['verify'], crypto) : p.publicKey;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${p.name}, OU=${p.kind}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto),
    ],
  });
  return { certPem: nl(cert.toString('pem')), serial, notAfter };
}

/** Parse a CSR and check its self-signature; returns its public key. */
export async function verifyCsr(csrPem: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new Error('CSR is not a valid PKCS#10 request');
  }
  if (!(await csr.verify(crypto))) throw new Error('CSR signature does not verify');
  if (csr.publicKey.algorithm.name !== 'ECDSA') throw new Error('CSR key must be ECDSA P-256');
  return csr.publicKey;
}

/** Make a key pair and a certificate for it in one step (hub certs, principals). */
export async function issueWithNewKey(
  p: Omit<IssueParams, 'publicKey'>,
): Promise<{ certPem: string; keyPem: string; serial: string; notAfter: Date }> {
  const keys = await generateKeyPair();
  const issued = await issueCert({ ...p, publicKey: keys.publicKey });
  return { ...issued, keyPem: await privateKeyToPem(keys.privateKey) };
}
