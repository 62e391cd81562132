/**
 * The agent's state directory: the pinned CA, its key and certificate (same
 * file names as a principal's identity directory) and agent.json (hub address,
 * name, labels). Certificate renewal stages `*.next` files and renames them, so
 * a crash never leaves a key that does not match its certificate.
 *
 *   DIR/agent.json  DIR/ca.crt  DIR/client.key (0600)  DIR/client.crt  [DIR/config.json]
 *   DIR/store/OP.json (what ops remember across restarts, agent/op-store.ts)
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { KuError } from '../proto/errors.js';
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../runtime/fsutil.js';
import { IDENTITY_FILES, loadIdentityDir, type IdentityFiles } from '../runtime/identity.js';
import type { Labels } from '../runtime/selector.js';

export const AGENT_FILE = 'agent.json';
export const DEFAULT_CONFIG_FILE = 'config.json';

export interface AgentMeta {
  hub: string;
  name: string;
  labels: Labels;
  joinedAt: string;
}

export class AgentState {
  constructor(readonly dir: string) {}

  /** Where ops keep what must outlive the process (restart budgets, resubmission counts). */
  get storeDir(): string {
    return join(this.dir, 'store');
  }

  get joined(): boolean {
    return existsSync(join(this.dir, AGENT_FILE));
  }

  meta(): AgentMeta {
    const m = readJsonIfExists<AgentMeta>(join(this.dir, AGENT_FILE));
    if (!m) throw new KuError('KU_ERR_STATE_INVALID', `${this.dir} holds no joined agent; run \`ku-agent join --hub HOST:PORT --token TOKEN --state ${this.dir}\` first`);
    return m;
  }

  /** Finish an interrupted renewal, then load the identity. */
  identity(): IdentityFiles {
    this.recover();
    return loadIdentityDir(this.dir);
  }

  private p(f: string): string {
    return join(this.dir, f);
  }

  private recover(): void {
    const keyNext = this.p(`${IDENTITY_FILES.key}.next`);
    const certNext = this.p(`${IDENTITY_FILES.cert}.next`);
    if (existsSync(certNext)) {
      if (existsSync(keyNext)) renameSync(keyNext, this.p(IDENTITY_FILES.key));
      renameSync(certNext, this.p(IDENTITY_FILES.cert));
    } else if (existsSync(keyNext)) {
      rmSync(keyNext); // the certificate never arrived: keep the old pair
    }
  }

  /** Save the result of a join. */
  saveJoin(meta: AgentMeta, caPem: string, keyPem: string, certPem: string): void {
    writeFileAtomic(this.p(IDENTITY_FILES.ca), caPem, 0o644);
    writeFileAtomic(this.p(IDENTITY_FILES.key), keyPem, 0o600);
    writeFileAtomic(this.p(IDENTITY_FILES.cert), certPem, 0o644);
    writeJsonAtomic(this.p(AGENT_FILE), meta, 0o644);
  }

  /** Replace key and certificate after a renewal. */
  saveRenewal(keyPem: string, certPem: string): void {
    writeFileAtomic(this.p(`${IDENTITY_FILES.key}.next`), keyPem, 0o600);
    writeFileAtomic(this.p(`${IDENTITY_FILES.cert}.next`), certPem, 0o644);
    this.recover();
  }
}
