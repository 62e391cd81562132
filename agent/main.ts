#!/usr/bin/env node
/** `ku-agent`: join a hub, then run as its agent on this host. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runMain } from '../runtime/run-main.js';
import { KuError } from '../proto/errors.js';
import { dispatch, helpIf, need, parseFlags } from '../runtime/cli-util.js';
import { KU_VERSION } from '../runtime/version.js';

const DEFAULT_STATE = process.env.KU_AGENT_STATE || '/var/lib/ku-agent';
const SYSTEM_CONFIG = '/etc/ku/agent.json';

async function loadConfig(path: string | undefined, stateDir: string) {
  const [{ loadAgentConfig, defaultAgentConfig }, { OP_TABLE }, { DEFAULT_CONFIG_FILE }] = await Promise.all([import('./config.js'), import('./ops/index.js'), import('./state.js')]);
  const candidates = path ? [path] : [join(stateDir, DEFAULT_CONFIG_FILE), SYSTEM_CONFIG];
  for (const p of candidates) {
    if (path || existsSync(p)) return { config: loadAgentConfig(p, OP_TABLE, process.env), source: p };
  }
  return { config: defaultAgentConfig(OP_TABLE), source: 'built-in default (read-only ops)' };
}

const commands = {
  join: [
    'enroll this host with a hub using a one-time token',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { hub: { type: 'string' }, token: { type: 'string' }, state: { type: 'string' }, name: { type: 'string' }, force: { type: 'boolean' } });
      if (helpIf(values.help, 'ku-agent join --hub HOST:PORT --token TOKEN [--state DIR] [--name NAME] [--force]\n\nThe key is made here and never leaves the host; the hub CA is pinned from the token.')) return 0;
      const { joinHub } = await import('./join.js');
      const r = await joinHub({ hub: need(values.hub, '--hub'), token: need(values.token, '--token'), stateDir: values.state ?? DEFAULT_STATE, ...(values.name ? { name: values.name } : {}), force: !!values.force });
      process.stdout.write(`joined as ${r.name} with labels ${JSON.stringify(r.labels)}\n`);
      return 0;
    },
  ],
  start: [
    'connect to the hub and serve operations until SIGINT/SIGTERM',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { state: { type: 'string' }, config: { type: 'string' }, hub: { type: 'string' }, 'log-level': { type: 'string' } });
      if (helpIf(values.help, `ku-agent start [--state DIR] [--config FILE] [--hub HOST:PORT]\n\nConfig: --config, else DIR/config.json, else ${SYSTEM_CONFIG}, else read-only ops only.`)) return 0;
      const stateDir = values.state ?? DEFAULT_STATE;
      const { config, source } = await loadConfig(values.config, stateDir);
      const [{ buildAgent }, { createLogger }] = await Promise.all([import('./agent.js'), import('../runtime/log.js')]);
      const log = createLogger('ku-agent', { level: values['log-level'] ?? config.logLevel });
      const agent = buildAgent(stateDir, { config, log, ...(values.hub ? { hub: values.hub } : {}) });
      log.info({ config: source, ops: [...config.ops.keys()] }, 'agent starting');
      agent.start();
      const code = await new Promise<number>((resolve) => {
        agent.link.once('fatal', (e: KuError) => resolve(e.code === 'KU_ERR_AUTH_REVOKED' ? 3 : 1));
        process.once('SIGINT', () => resolve(0));
        process.once('SIGTERM', () => resolve(0));
      });
      await agent.close();
      return code;
    },
  ],
  'check-config': [
    'validate an agent config and print the effective allowlist',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { config: { type: 'string' }, state: { type: 'string' } });
      if (helpIf(values.help, 'ku-agent check-config [--config FILE] [--state DIR]')) return 0;
      const { config, source } = await loadConfig(values.config, values.state ?? DEFAULT_STATE);
      process.stdout.write(`${JSON.stringify({ source, ops: Object.fromEntries(config.ops), maxConcurrentOps: config.maxConcurrentOps }, null, 2)}\n`);
      return 0;
    },
  ],
  'polkit-rule': [
    'print the polkit rule that lets the agent user restart exactly the allowlisted units',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { config: { type: 'string' }, state: { type: 'string' }, user: { type: 'string' } });
      if (helpIf(values.help, 'ku-agent polkit-rule [--config FILE] [--user ku-agent]\n\nPrints a polkit rules file; install it as /etc/polkit-1/rules.d/60-ku-agent.rules.')) return 0;
      const { config, source } = await loadConfig(values.config, values.state ?? DEFAULT_STATE);
      const { polkitRule } = await import('./polkit.js');
      try {
        process.stdout.write(polkitRule(config, values.user ?? 'ku-agent', source));
      } catch (e) {
        throw new KuError('KU_ERR_USAGE', (e as Error).message);
      }
      return 0;
    },
  ],
  version: [
    'print the version',
    async () => {
      process.stdout.write(`ku-agent ${KU_VERSION}\n`);
      return 0;
    },
  ],
} as const;

runMain('ku-agent', (argv) => dispatch('ku-agent', 'the ku agent: runs allowlisted operations on this host', commands, argv));
