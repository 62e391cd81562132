#!/usr/bin/env node
/** `ku-hub`: run and administer a hub. Admin commands work on the state directory directly. */
import { runMain } from '../runtime/run-main.js';
import { KuError } from '../proto/errors.js';
import { parseDuration } from '../runtime/duration.js';
import { dispatch, helpIf, need, parseFlags } from '../runtime/cli-util.js';
import { parseLabels } from '../runtime/selector.js';
import { KU_VERSION } from '../runtime/version.js';

const DEFAULT_STATE = process.env.KU_HUB_STATE || '/var/lib/ku-hub';

function duration(v: string, flag: string): number {
  try {
    return parseDuration(v);
  } catch (e) {
    throw new KuError('KU_ERR_USAGE', `${flag}: ${(e as Error).message}`);
  }
}

const commands = {
  init: [
    'create the CA, the hub certificate and default roles in a state directory',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { state: { type: 'string' }, listen: { type: 'string' }, name: { type: 'string' }, san: { type: 'string', multiple: true } });
      if (helpIf(values.help, 'ku-hub init [--state DIR] [--listen HOST:PORT] [--name NAME] [--san DNS-OR-IP ...]\n\nCreates DIR (default $KU_HUB_STATE or /var/lib/ku-hub) with a new CA. Refuses to overwrite an existing hub.')) return 0;
      const { HubState } = await import('./state.js');
      const dir = values.state ?? DEFAULT_STATE;
      const st = await HubState.init(dir, { ...(values.listen ? { listen: values.listen } : {}), ...(values.name ? { name: values.name } : {}), sans: values.san ?? [] });
      process.stdout.write(`initialized hub ${st.config.name} in ${dir} (listen ${st.config.listen}); CA pin ${st.caPin()}\n`);
      return 0;
    },
  ],
  start: [
    'run the hub until SIGINT/SIGTERM',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { state: { type: 'string' }, listen: { type: 'string' }, 'log-level': { type: 'string' } });
      if (helpIf(values.help, 'ku-hub start [--state DIR] [--listen HOST:PORT] [--log-level info]\n\nLogs JSON to stdout. Ctrl-C or SIGTERM stops it cleanly.')) return 0;
      const [{ buildHub }, { createLogger }] = await Promise.all([import('./hub.js'), import('../runtime/log.js')]);
      const log = createLogger('ku-hub', { level: values['log-level'] ?? 'info' });
      const hub = buildHub(values.state ?? DEFAULT_STATE, { log, ...(values.listen ? { listen: values.listen } : {}) });
      await hub.start();
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          log.info({ sig }, 'stopping');
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      await hub.close();
      return 0;
    },
  ],
  'token create': [
    'create a one-time join token bound to labels',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { state: { type: 'string' }, labels: { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } });
      if (helpIf(values.help, 'ku-hub token create [--state DIR] [--labels k=v,...] [--ttl 1h] [--json]\n\nPrints the token. It works once, until it expires, and binds the agent that uses it to the labels.')) return 0;
      let labels;
      try {
        labels = parseLabels(values.labels ?? '');
      } catch (e) {
        throw new KuError('KU_ERR_USAGE', `--labels: ${(e as Error).message}`);
      }
      const { HubState } = await import('./state.js');
      const st = HubState.open(values.state ?? DEFAULT_STATE);
      const t = st.createToken(labels, duration(values.ttl ?? '1h', '--ttl'));
      process.stdout.write(values.json ? `${JSON.stringify({ token: t.token, id: t.id, expiresAt: t.expiresAt.toISOString(), labels })}\n` : `${t.token}\n`);
      return 0;
    },
  ],
  'principal add': [
    'issue a client identity for a person or an AI',
    async (argv: string[]) => {
      const { values, positionals } = parseFlags(argv, { state: { type: 'string' }, role: { type: 'string' }, out: { type: 'string' }, ttl: { type: 'string' }, hub: { type: 'string' } }, 1);
      if (helpIf(values.help, 'ku-hub principal add NAME --role ROLE --out DIR [--state DIR] [--ttl 12h] [--hub HOST:PORT]\n\nWrites ca.crt, client.crt, client.key and ku.json to DIR; point KU_IDENTITY at it. Re-running re-issues the certificate.')) return 0;
      const name = need(positionals[0], 'NAME');
      const role = need(values.role, '--role');
      const out = need(values.out, '--out');
      const [{ HubState }, { Policy }, { HUB_FILES }] = await Promise.all([import('./state.js'), import('./policy.js'), import('./state.js')]);
      const st = HubState.open(values.state ?? DEFAULT_STATE);
      if (!Policy.load(st.path(HUB_FILES.roles)).hasRole(role)) throw new KuError('KU_ERR_USAGE', `role ${JSON.stringify(role)} is not defined in ${st.path(HUB_FILES.roles)}`);
      const r = await st.addPrincipal(name, role, out, { ...(values.ttl ? { ttlMs: duration(values.ttl, '--ttl') } : {}), ...(values.hub ? { hub: values.hub } : {}) });
      process.stdout.write(`principal ${name} (role ${role}) written to ${out}; valid until ${r.notAfter.toISOString()}\n`);
      return 0;
    },
  ],
  revoke: [
    'revoke an agent or principal: cut at once, refused afterwards (revoke agent|principal NAME)',
    async (argv: string[]) => {
      const { values, positionals } = parseFlags(argv, { state: { type: 'string' } }, 2);
      if (helpIf(values.help, 'ku-hub revoke agent|principal NAME [--state DIR]')) return 0;
      const kind = need(positionals[0], 'agent|principal');
      if (kind !== 'agent' && kind !== 'principal') throw new KuError('KU_ERR_USAGE', `revoke takes agent or principal, not ${JSON.stringify(kind)}`);
      const name = need(positionals[1], 'NAME');
      const { HubState } = await import('./state.js');
      const r = HubState.open(values.state ?? DEFAULT_STATE).revoke(kind, name);
      process.stdout.write(`revoked ${kind} ${name} (${r.serials.length} certificate(s)); a running hub disconnects it now\n`);
      return 0;
    },
  ],
  'audit verify': [
    'check the audit log hash chain; exit 1 if any record was edited, removed or reordered',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { state: { type: 'string' }, json: { type: 'boolean' } });
      if (helpIf(values.help, 'ku-hub audit verify [--state DIR] [--json]')) return 0;
      const [{ verifyAudit }, { HUB_FILES, HubState }] = await Promise.all([import('./audit.js'), import('./state.js')]);
      const st = HubState.open(values.state ?? DEFAULT_STATE);
      const r = verifyAudit(st.path(HUB_FILES.audit), st.path(HUB_FILES.auditHead));
      if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else if (r.ok) process.stdout.write(`audit log ok: ${r.records} records, chain intact\n`);
      else process.stdout.write(`audit log BROKEN:\n${r.problems.map((p) => `  line ${p.line}: ${p.problem}`).join('\n')}\n`);
      return r.ok ? 0 : 1;
    },
  ],
  'audit tail': [
    'print the newest audit records (JSON lines)',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { state: { type: 'string' }, lines: { type: 'string', short: 'n' }, op: { type: 'string' }, principal: { type: 'string' } });
      if (helpIf(values.help, 'ku-hub audit tail [--state DIR] [-n 20] [--op OP] [--principal NAME]')) return 0;
      const [{ readAudit }, { HUB_FILES, HubState }] = await Promise.all([import('./audit.js'), import('./state.js')]);
      const st = HubState.open(values.state ?? DEFAULT_STATE);
      const n = Number(values.lines ?? 20);
      if (!Number.isInteger(n) || n <= 0) throw new KuError('KU_ERR_USAGE', '-n takes a positive integer');
      for (const r of readAudit(st.path(HUB_FILES.audit), { limit: n, ...(values.op ? { op: values.op } : {}), ...(values.principal ? { principal: values.principal } : {}) })) process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    },
  ],
  version: [
    'print the version',
    async () => {
      process.stdout.write(`ku-hub ${KU_VERSION}\n`);
      return 0;
    },
  ],
} as const;

runMain('ku-hub', (argv) => dispatch('ku-hub', 'the ku hub: CA, policy, audit and routing to agents', commands, argv));
