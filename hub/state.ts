/**
 * The hub's state directory: CA, the hub's own certificate, join tokens,
 * enrolled agents, principals, revocations, roles and the audit log. The
 * `ku-hub` admin commands work on this directory directly (whoever can read the
 * CA key is the hub's administrator); the running hub picks up their changes.
 *
 *   DIR/hub.json            config            DIR/roles.json        role policy
 *   DIR/ca.crt, ca.key      the CA (0600)     DIR/hub.crt, hub.key  the hub's TLS identity
 *   DIR/tokens/ID.json      join tokens (renamed to ID.used when consumed)
 *   DIR/agents/NAME.json    enrolled agents   DIR/principals/NAME.json
 *   DIR/revoked/KIND-NAME.json  revoked serials   DIR/audit.jsonl, audit.head
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { KuError } from '../proto/errors.js';
import { parseDuration } from '../runtime/duration.js';
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../runtime/fsutil.js';
import { IDENTITY_FILES, NAME_RE, normalizeSerial, type IdentityKind } from '../runtime/identity.js';
import { certFingerprint, createCa, issueCert, issueWithNewKey, verifyCsr } from '../runtime/pki.js';
import type { Labels } from '../runtime/selector.js';
import { parseJoinToken } from '../runtime/join-token.js';
import { HubConfigSchema, formatIssues, type HubConfig } from './config.js';
import { DEFAULT_ROLES } from './policy.js';

export const HUB_FILES = {
  config: 'hub.json',
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'hub.crt',
  key: 'hub.key',
  roles: 'roles.json',
  audit: 'audit.jsonl',
  auditHead: 'audit.head',
  tokens: 'tokens',
  agents: 'agents',
  principals: 'principals',
  revoked: 'revoked',
} as const;

const CA_TTL_MS = 10 * 365 * 86_400_000;
const HUB_CERT_TTL_MS = 365 * 86_400_000;

/** An enrolled agent as the hub records it. */
export interface AgentRecord {
  name: string;
  labels: Labels;
  joinedAt: string;
  tokenId: string;
  serials: string[];
}

/** A principal (person or AI) as the hub records it. */
export interface PrincipalRecord {
  name: string;
  role: string;
  createdAt: string;
  serials: string[];
}

interface TokenRecord {
  id: string;
  secretSha256: string;
  labels: Labels;
  createdAt: string;
  expiresAt: string;
}

/** Options of `ku-hub init`. */
export interface InitOptions {
  listen?: string;
  name?: string;
  /** Extra DNS names or IPs for the hub certificate (clients check the ku://hub URI, not these). */
  sans?: string[];
  config?: Partial<HubConfig>;
}

/** Parse a hub.json text; every problem reported at once. */
export function parseHubConfig(raw: unknown, where: string): HubConfig {
  const r = HubConfigSchema.safeParse(raw);
  if (!r.success) throw new KuError('KU_ERR_CONFIG_INVALID', `${where}: ${formatIssues(r.error.issues)}`);
  return Object.freeze(r.data);
}

/** Handle on a hub state directory. */
export class HubState {
  private constructor(
    readonly dir: string,
    readonly config: HubConfig,
    readonly caPem: string,
  ) {}

  /** Whether DIR already holds a hub. */
  static exists(dir: string): boolean {
    return existsSync(join(dir, HUB_FILES.config)) && existsSync(join(dir, HUB_FILES.caKey));
  }

  /** Create a new hub state: CA, hub certificate, default roles. */
  static async init(dir: string, opts: InitOptions = {}): Promise<HubState> {
    if (HubState.exists(dir)) throw new KuError('KU_ERR_STATE_INVALID', `${dir} already holds a hub; refusing to overwrite its CA`);
    const config = parseHubConfig({ ...opts.config, ...(opts.listen ? { listen: opts.listen } : {}), ...(opts.name ? { name: opts.name } : {}) }, 'hub config');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const d of [HUB_FILES.tokens, HUB_FILES.agents, HUB_FILES.principals, HUB_FILES.revoked]) mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
    const ca = await createCa(`ku CA ${config.name}`, CA_TTL_MS);
    writeFileAtomic(join(dir, HUB_FILES.caKey), ca.keyPem, 0o600);
    writeFileAtomic(join(dir, HUB_FILES.caCert), ca.certPem, 0o644);
    const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
    const names = new Set(['localhost', '127.0.0.1', hostname(), host, ...(opts.sans ?? [])]);
    const ips = [...names].filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n) || n.includes(':'));
    const dns = [...names].filter((n) => !ips.includes(n) && /^[a-z0-9.-]+$/i.test(n));
    const hub = await issueWithNewKey({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, kind: 'hub', name: config.name, ttlMs: HUB_CERT_TTL_MS, dnsNames: dns, ipAddresses: ips });
    writeFileAtomic(join(dir, HUB_FILES.key), hub.keyPem, 0o600);
    // The chain carries the CA so joining agents can check it against their token's pin.
    writeFileAtomic(join(dir, HUB_FILES.cert), hub.certPem + ca.certPem, 0o644);
    writeJsonAtomic(join(dir, HUB_FILES.roles), DEFAULT_ROLES, 0o644);
    writeJsonAtomic(join(dir, HUB_FILES.config), config, 0o644);
    return HubState.open(dir);
  }

  /** Open an existing hub state. */
  static open(dir: string): HubState {
    if (!HubState.exists(dir)) throw new KuError('KU_ERR_STATE_INVALID', `${dir} holds no hub state; run \`ku-hub init --state ${dir}\` first`);
    const config = parseHubConfig(JSON.parse(readFileSync(join(dir, HUB_FILES.config), 'utf8')), join(dir, HUB_FILES.config));
    return new HubState(dir, config, readFileSync(join(dir, HUB_FILES.caCert), 'utf8'));
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  private caKeyPem(): string {
    return readFileSync(this.path(HUB_FILES.caKey), 'utf8');
  }

  /** The hub's TLS key and certificate chain. */
  hubKeyPair(): { keyPem: string; certChainPem: string } {
    return { keyPem: readFileSync(this.path(HUB_FILES.key), 'utf8'), certChainPem: readFileSync(this.path(HUB_FILES.cert), 'utf8') };
  }

  /** Base64url SHA-256 of the CA certificate: the pin in join tokens. */
  caPin(): string {
    return certFingerprint(this.caPem);
  }

  // ---- join tokens -------------------------------------------------------

  /** Create a one-time join token bound to labels. Only a hash of its secret is stored. */
  createToken(labels: Labels, ttlMs: number): { token: string; id: string; expiresAt: Date } {
    const max = parseDuration(this.config.maxTokenTtl);
    if (ttlMs > max) throw new KuError('KU_ERR_INVALID_PARAMS', `token ttl exceeds maxTokenTtl ${this.config.maxTokenTtl}`);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + ttlMs);
    const rec: TokenRecord = {
      id,
      secretSha256: createHash('sha256').update(secret).digest('hex'),
      labels,
      createdAt: new Date().toISOString(),
      expiresAt: expiresAt.toISOString(),
    };
    writeJsonAtomic(this.path(join(HUB_FILES.tokens, `${id}.json`)), rec, 0o600);
    return { token: `ku1.${id}.${secret}.${this.caPin()}`, id, expiresAt };
  }

  /**
   * Consume a token: check it, then claim it by an atomic rename so that two
   * concurrent joins cannot both use it. Returns the labels it is bound to.
   */
  consumeToken(token: string): { id: string; labels: Labels } {
    const { id, secret } = parseJoinToken(token);
    const live = this.path(join(HUB_FILES.tokens, `${id}.json`));
    const used = this.path(join(HUB_FILES.tokens, `${id}.used`));
    const rec = readJsonIfExists<TokenRecord>(live) ?? readJsonIfExists<TokenRecord>(used);
    if (!rec) throw new KuError('KU_ERR_JOIN_TOKEN_INVALID', 'unknown join token');
    const want = Buffer.from(rec.secretSha256, 'hex');
    const got = createHash('sha256').update(secret).digest();
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new KuError('KU_ERR_JOIN_TOKEN_INVALID', 'unknown join token');
    if (!existsSync(live)) throw new KuError('KU_ERR_JOIN_TOKEN_USED', `join token ${id} was already used`);
    if (Date.parse(rec.expiresAt) <= Date.now()) throw new KuError('KU_ERR_JOIN_TOKEN_EXPIRED', `join token ${id} expired at ${rec.expiresAt}`);
    try {
      renameSync(live, used);
    } catch {
      throw new KuError('KU_ERR_JOIN_TOKEN_USED', `join token ${id} was already used`);
    }
    return { id, labels: rec.labels };
  }

  // ---- agents --------------------------------------------------------------

  agent(name: string): AgentRecord | undefined {
    if (!NAME_RE.test(name)) return undefined;
    return readJsonIfExists<AgentRecord>(this.path(join(HUB_FILES.agents, `${name}.json`)));
  }

  agents(): AgentRecord[] {
    const dir = this.path(HUB_FILES.agents);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJsonIfExists<AgentRecord>(join(dir, f)))
      .filter((r): r is AgentRecord => r !== undefined);
  }

  /** Sign an agent's CSR after a successful join or renewal; records the serial. */
  async issueAgentCert(name: string, csrPem: string, rec: AgentRecord): Promise<{ certPem: string; serial: string; notAfter: Date }> {
    const publicKey = await verifyCsr(csrPem).catch((e: Error) => {
      throw new KuError('KU_ERR_INVALID_PARAMS', e.message);
    });
    const issued = await issueCert({
      caCertPem: this.caPem,
      caKeyPem: this.caKeyPem(),
      kind: 'agent',
      name,
      publicKey,
      ttlMs: parseDuration(this.config.agentCertTtl),
    });
    rec.serials = [...rec.serials.slice(-19), normalizeSerial(issued.serial)];
    writeJsonAtomic(this.path(join(HUB_FILES.agents, `${name}.json`)), rec, 0o600);
    return issued;
  }

  // ---- principals ------------------------------------------------------------

  principal(name: string): PrincipalRecord | undefined {
    if (!NAME_RE.test(name)) return undefined;
    return readJsonIfExists<PrincipalRecord>(this.path(join(HUB_FILES.principals, `${name}.json`)));
  }

  /**
   * Add (or re-issue) a principal: a key and client certificate written to
   * outDir as an identity directory that CLIs use through KU_IDENTITY.
   */
  async addPrincipal(
    name: string,
    role: string,
    outDir: string,
    opts: { ttlMs?: number; hub?: string; notBefore?: Date; notAfter?: Date } = {},
  ): Promise<{ serial: string; notAfter: Date }> {
    if (!NAME_RE.test(name)) throw new KuError('KU_ERR_INVALID_PARAMS', `invalid principal name ${JSON.stringify(name)}`);
    const issued = await issueWithNewKey({
      caCertPem: this.caPem,
      caKeyPem: this.caKeyPem(),
      kind: 'principal',
      name,
      ttlMs: opts.ttlMs ?? parseDuration(this.config.principalCertTtl),
      ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
      ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
    });
    const prev = this.principal(name);
    const rec: PrincipalRecord = {
      name,
      role,
      createdAt: prev?.createdAt ?? new Date().toISOString(),
      serials: [...(prev?.serials ?? []).slice(-19), normalizeSerial(issued.serial)],
    };
    writeJsonAtomic(this.path(join(HUB_FILES.principals, `${name}.json`)), rec, 0o600);
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(outDir, IDENTITY_FILES.ca), this.caPem, 0o644);
    writeFileAtomic(join(outDir, IDENTITY_FILES.cert), issued.certPem, 0o644);
    writeFileAtomic(join(outDir, IDENTITY_FILES.key), issued.keyPem, 0o600);
    writeJsonAtomic(join(outDir, IDENTITY_FILES.meta), { hub: opts.hub ?? this.config.listen, name, role, notAfter: issued.notAfter.toISOString() }, 0o644);
    return { serial: issued.serial, notAfter: issued.notAfter };
  }

  // ---- revocation --------------------------------------------------------------

  /** Revoke every certificate issued so far to an agent or principal. */
  revoke(kind: Extract<IdentityKind, 'agent' | 'principal'>, name: string): { serials: string[] } {
    const rec = kind === 'agent' ? this.agent(name) : this.principal(name);
    if (!rec) throw new KuError('KU_ERR_TARGET_UNKNOWN', `no ${kind} named ${JSON.stringify(name)}`);
    const file = this.path(join(HUB_FILES.revoked, `${kind}-${name}.json`));
    const prev = readJsonIfExists<{ serials: string[] }>(file);
    const serials = [...new Set([...(prev?.serials ?? []), ...rec.serials])];
    writeJsonAtomic(file, { kind, name, serials, revokedAt: new Date().toISOString() }, 0o600);
    return { serials };
  }

  /** All revoked serials, and a stamp that changes whenever the set does. */
  revokedSerials(): Set<string> {
    const dir = this.path(HUB_FILES.revoked);
    const out = new Set<string>();
    if (!existsSync(dir)) return out;
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.json')) continue;
      const rec = readJsonIfExists<{ serials: string[] }>(join(dir, f));
      for (const s of rec?.serials ?? []) out.add(normalizeSerial(s));
    }
    return out;
  }

  /** Modification stamp of the revocation directory (changes on every revoke). */
  revocationStamp(): number {
    try {
      return statSync(this.path(HUB_FILES.revoked)).mtimeMs;
    } catch {
      return 0;
    }
  }

  /** Register a newly joined agent; refuses a name already held by a live identity. */
  enrollAgent(name: string, labels: Labels, tokenId: string): AgentRecord {
    const existing = this.agent(name);
    if (existing) {
      const revoked = this.revokedSerials();
      if (existing.serials.some((s) => !revoked.has(s))) throw new KuError('KU_ERR_JOIN_NAME_TAKEN', `an agent named ${name} is already enrolled`);
    }
    return { name, labels, joinedAt: new Date().toISOString(), tokenId, serials: existing?.serials ?? [] };
  }
}
