/**
 * `ku mcp` as an AI sees it: an MCP client from the official SDK talks to the real server over
 * stdio; tools reach a real agent through the hub, denials and bad arguments come back structured.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paramFlags } from '../../cli/args.js';
import { readAudit } from '../../hub/audit.js';
import { HUB_FILES } from '../../hub/state.js';
import { catalogue } from '../../proto/catalogue/index.js';
import { cleanup, principal, ROOT, startAgent, startHub, type AgentCtx, type HubCtx } from '../helpers/rig.js';

let h: HubCtx;
let agent: AgentCtx;
const clients: Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await cleanup();
});

async function mcp(identity: string, ...args: string[]): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(ROOT, 'dist/cli/ku.js'), 'mcp', ...args],
    env: { PATH: process.env.PATH ?? '', KU_HUB: h.addr, KU_IDENTITY: identity, KU_SESSION: 'goose-session-1' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'ku-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

type Body = { results?: { host: string; ok: boolean; data?: any; error?: { code: string; hint: string } }[]; error?: { code: string; hint: string; retryable: boolean } };

beforeAll(async () => {
  h = await startHub();
  agent = await startAgent(h, { name: `mcp-agent-${process.pid}`, ops: { 'diag.host': {}, 'sys.restart': { units: ['only-this.service'] } } });
});

describe('ku mcp', () => {
  it('lists every op as a tool whose schemas match the catalogue, with read/change/destructive annotations', async () => {
    const c = await mcp(await principal(h));
    const { tools } = await c.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(catalogue.list().map((s) => s.name.replace(/\./g, '_')).sort());
    for (const spec of catalogue.list()) {
      const t = tools.find((x) => x.name === spec.name.replace(/\./g, '_'))!;
      expect(Object.keys(t.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(paramFlags(spec).map((f) => f.param)));
      expect(t.annotations).toMatchObject({ readOnlyHint: !spec.mutates, destructiveHint: !!spec.destructive });
      expect(t.outputSchema).toBeDefined();
    }
    expect(tools.find((t) => t.name === 'pg_drop-index')!.annotations!.destructiveHint).toBe(true);
    expect(tools.find((t) => t.name === 'pg_apply-index')!.annotations!.destructiveHint).toBe(false);
  });

  it('--read-only exposes only tools that read; --tools only the named ones', async () => {
    const id = await principal(h);
    const ro = (await (await mcp(id, '--read-only')).listTools()).tools;
    expect(ro.length).toBe(catalogue.list().filter((s) => !s.mutates).length);
    expect(ro.every((t) => t.annotations?.readOnlyHint)).toBe(true);
    const named = (await (await mcp(id, '--tools', 'diag.host,sys_status')).listTools()).tools;
    expect(named.map((t) => t.name).sort()).toEqual(['diag_host', 'sys_status']);
  });

  it('a read tool and a mutating tool reach the real agent through the hub; the audit names the AI session', async () => {
    const c = await mcp(await principal(h, 'admin', 'goose'));
    const read = await c.callTool({ name: 'diag_host', arguments: { top: 2 } });
    const body = read.structuredContent as Body;
    expect(read.isError).toBe(false);
    expect(body.results![0]).toMatchObject({ host: agent.name, ok: true });
    expect(body.results![0]!.data.topProcesses.length).toBeLessThanOrEqual(2);
    const write = await c.callTool({ name: 'sys_restart', arguments: { unit: 'sshd', session: 'goose-session-2' } });
    const wbody = write.structuredContent as Body;
    expect(write.isError).toBe(true);
    expect(wbody.results![0]!.error).toMatchObject({ code: 'KU_ERR_UNIT_NOT_ALLOWED' }); // the agent itself said no
    const audit = readAudit(join(h.dir, HUB_FILES.audit)).filter((r) => r.principal === 'goose');
    expect(audit.filter((r) => r.kind === 'intent').map((r) => `${r.op}@${r.session}`)).toEqual(['diag.host@goose-session-1', 'sys.restart@goose-session-2']);
  });

  it('a call the role forbids comes back as a structured denial with its hint', async () => {
    const c = await mcp(await principal(h, 'reader'));
    const r = await c.callTool({ name: 'sys_restart', arguments: { unit: 'only-this' } });
    expect(r.isError).toBe(true);
    const e = (r.structuredContent as Body).results![0]!.error!;
    expect(e.code).toBe('KU_ERR_POLICY_DENIED');
    expect(e.hint).toMatch(/role/);
  });

  it('invalid arguments are refused before the hub', async () => {
    const c = await mcp(await principal(h, 'admin', 'careless'));
    for (const args of [{ top: 500 }, { top: 'three' }, { rm: '-rf' }]) {
      const r = await c.callTool({ name: 'diag_host', arguments: args });
      expect(r.isError).toBe(true);
      expect((r.structuredContent as Body).error).toMatchObject({ code: 'KU_ERR_INVALID_PARAMS', retryable: false });
    }
    expect(readAudit(join(h.dir, HUB_FILES.audit)).filter((r) => r.principal === 'careless')).toEqual([]);
  });
});
