#!/usr/bin/env node
/** `ku`: the umbrella command: a local dev setup, version, and hub queries. */
import { basename } from 'node:path';
import { catalogue } from '../proto/catalogue/index.js';
import { OP_BINS, type OpBin } from '../proto/op-spec.js';
import { dispatch, helpIf, parseFlags } from '../runtime/cli-util.js';
import { runMain } from '../runtime/run-main.js';
import { KU_VERSION } from '../runtime/version.js';
import { processOut, table } from './output.js';
import { resolveSettings } from './settings.js';

async function client(flags: { hub?: string; identity?: string }) {
  const { HubClient } = await import('./client.js');
  return new HubClient(resolveSettings(flags, process.env));
}

const conn = { hub: { type: 'string' }, identity: { type: 'string' }, json: { type: 'boolean' } } as const;

const commands = {
  dev: ['run a hub and an agent for this machine with generated credentials', async (argv: string[]) => (await import('./dev.js')).runDev(argv, process.env)],
  mcp: ['serve the operations as Model Context Protocol tools on stdio (for AI agents, no shell)', async (argv: string[]) => (await import('./mcp.js')).runMcp(argv, process.env)],
  version: [
    'print the version',
    async () => {
      process.stdout.write(`ku ${KU_VERSION}\n`);
      return 0;
    },
  ],
  ops: [
    'list the operation catalogue',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { json: { type: 'boolean' } });
      if (helpIf(values.help, 'ku ops [--json]')) return 0;
      const rows = catalogue.list().map((s) => ({ op: s.name, command: `${s.cli.bin} ${s.cli.command}`, mutates: s.mutates, risk: s.risk, summary: s.summary }));
      const out = processOut(values.json);
      if (out.json) for (const r of rows) out.stdout(`${JSON.stringify(r)}\n`);
      else out.stdout(`${table(rows)}\n`);
      return 0;
    },
  ],
  agents: [
    'list agents known to the hub, with labels and connection state',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { ...conn, selector: { type: 'string' } });
      if (helpIf(values.help, 'ku agents [--selector SEL] [--json] [--hub HOST:PORT] [--identity DIR]')) return 0;
      const c = await client(values);
      try {
        const agents = await c.listAgents(values.selector ?? '');
        const out = processOut(values.json);
        if (out.json) for (const a of agents) out.stdout(`${JSON.stringify(a)}\n`);
        else
          out.stdout(
            `${table(
              agents.map((a) => ({
                name: a.name,
                connected: a.connected ? 'yes' : 'no',
                labels: Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(','),
                version: a.version,
                ops: a.ops.length,
                lastHeartbeat: a.last_heartbeat_ms ? new Date(a.last_heartbeat_ms).toISOString() : '-',
              })),
            )}\n`,
          );
        return 0;
      } finally {
        c.close();
      }
    },
  ],
  whoami: [
    'show the identity and role the hub sees for you',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, conn);
      if (helpIf(values.help, 'ku whoami [--json]')) return 0;
      const c = await client(values);
      try {
        const w = await c.whoAmI();
        process.stdout.write(`${JSON.stringify({ kind: w.kind, name: w.name, role: w.role, notAfter: new Date(w.not_after_ms).toISOString() })}\n`);
        return 0;
      } finally {
        c.close();
      }
    },
  ],
  audit: [
    'show audit records (yours, or everyone\'s with a role that covers hub.audit)',
    async (argv: string[]) => {
      const { values } = parseFlags(argv, { ...conn, limit: { type: 'string', short: 'n' }, op: { type: 'string' }, principal: { type: 'string' } });
      if (helpIf(values.help, 'ku audit [-n 50] [--op OP] [--principal NAME]')) return 0;
      const c = await client(values);
      try {
        for (const r of await c.audit({ limit: Number(values.limit ?? 50), op: values.op ?? '', principal: values.principal ?? '' })) process.stdout.write(`${JSON.stringify(r)}\n`);
        return 0;
      } finally {
        c.close();
      }
    },
  ],
} as const;

// One program, several names: the single executable of `npm run package` is installed as ku with
// ku-diag, ku-sys, ... as symbolic links to it (as busybox does), and answers to the name it was called by.
const invokedAs = basename(process.argv0);
if ((OP_BINS as readonly string[]).includes(invokedAs)) {
  const bin = invokedAs as OpBin;
  runMain(bin, async (argv) => (await import('./op-bin.js')).runOpBin(bin, argv));
} else runMain('ku', (argv) => dispatch('ku', 'the ku control plane: safe, audited operations for AI and people', commands, argv));
