/**
 * Where a CLI finds the hub and its identity: flags, then the environment
 * (KU_HUB, KU_IDENTITY, KU_SESSION), then the config file
 * ($XDG_CONFIG_HOME/ku/config.json: {"hub": "...", "identity": "..."}), then
 * the hub address recorded in the identity directory's ku.json.
 * Read once in main; nothing below reads process.env.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KuError } from '../proto/errors.js';
import { IDENTITY_FILES } from '../runtime/identity.js';

export interface CliSettings {
  hub: string;
  identityDir: string;
  session: string;
}

/** The CLI config file path. */
export function configPath(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'ku', 'config.json');
}

export function resolveSettings(flags: { hub?: string; identity?: string; session?: string }, env: NodeJS.ProcessEnv): CliSettings {
  let file: { hub?: string; identity?: string } = {};
  const cfg = configPath(env);
  if (existsSync(cfg)) {
    try {
      file = JSON.parse(readFileSync(cfg, 'utf8')) as typeof file;
    } catch (e) {
      throw new KuError('KU_ERR_CONFIG_INVALID', `${cfg}: ${(e as Error).message}`);
    }
  }
  const identityDir = flags.identity || env.KU_IDENTITY || file.identity;
  if (!identityDir) throw new KuError('KU_ERR_IDENTITY_MISSING', 'no identity: pass --identity DIR or set KU_IDENTITY');
  let hub = flags.hub || env.KU_HUB || file.hub;
  if (!hub) {
    const meta = join(identityDir, IDENTITY_FILES.meta);
    if (existsSync(meta)) hub = (JSON.parse(readFileSync(meta, 'utf8')) as { hub?: string }).hub;
  }
  if (!hub) throw new KuError('KU_ERR_HUB_ADDRESS_MISSING', 'no hub address: pass --hub HOST:PORT or set KU_HUB');
  return { hub, identityDir, session: flags.session || env.KU_SESSION || '' };
}
