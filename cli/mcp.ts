/**
 * `ku mcp`: a Model Context Protocol server (stdio) that exposes the operation catalogue as tools,
 * generated from the op specs: name, description, JSON Schema of params and result, and the
 * annotations that say whether a tool only reads, changes state or is destructive. Every call goes
 * to the hub with the principal identity the server was given, so the hub's roles and audit apply
 * unchanged, and the audit record names the AI session. Errors come back as structured results
 * with the code and hint. An AI gets ku's operations without a shell.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { catalogue } from '../proto/catalogue/index.js';
import { KuError } from '../proto/errors.js';
import type { OpSpec } from '../proto/op-spec.js';
import { helpIf, parseFlags } from '../runtime/cli-util.js';
import { KU_VERSION } from '../runtime/version.js';
import { HubClient } from './client.js';
import { RunPrinter } from './fanout.js';
import type { Out } from './output.js';
import { resolveSettings } from './settings.js';

/** MCP tool names allow [A-Za-z0-9_-]: `pg.apply-index` → `pg_apply-index`. */
export const toolName = (op: string): string => op.replace(/\./g, '_');

const TARGETING = {
  host: { description: 'run on these agents (names); default: the one agent that offers the operation', anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
  selector: { type: 'string', description: "run on agents whose labels match, e.g. 'role=web,env!=dev'" },
  maxConcurrency: { type: 'string', description: 'fan-out: hosts at once, N or P% (required for changes on several hosts)' },
  maxErrors: { type: 'string', description: 'fan-out: stop starting hosts once more than N (or P%) failed' },
  session: { type: 'string', description: 'AI session id recorded in the audit log (default: the server\'s --session)' },
} as const;

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output'): Json {
  const j = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  delete j.$schema;
  return j;
}

const errorSchema = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' }, retryable: { type: 'boolean' } }, required: ['code', 'message', 'hint', 'retryable'] };

/** The MCP tool for one op. */
export function toolFor(spec: OpSpec): Tool {
  const input = schema(spec.params, 'input');
  return {
    name: toolName(spec.name),
    title: spec.summary,
    description: `${spec.summary}. ku operation ${spec.name} (${spec.mutates ? 'CHANGES the target' : 'read-only'}, risk ${spec.risk}); runs through the ku hub under your principal's role, audited. CLI: ${spec.cli.bin} ${spec.cli.command}.`,
    inputSchema: { ...input, type: 'object', properties: { ...(input.properties as Json), ...TARGETING }, additionalProperties: false } as Tool['inputSchema'],
    outputSchema: {
      type: 'object',
      properties: {
        results: {
          type: 'array',
          items: { type: 'object', properties: { host: { type: ['string', 'null'] }, op: { type: 'string' }, ok: { type: 'boolean' }, data: schema(spec.result, 'output'), error: errorSchema, durationMs: { type: 'number' }, auditId: { type: ['string', 'null'] } }, required: ['host', 'op', 'ok'] },
        },
        summary: { type: 'object' },
        error: errorSchema,
      },
    },
    annotations: { title: spec.summary, readOnlyHint: !spec.mutates, destructiveHint: !!spec.destructive, idempotentHint: !spec.mutates, openWorldHint: false },
  };
}

function errorResult(err: KuError): CallToolResult {
  const body = { error: { code: err.code, message: err.message, hint: err.hint, retryable: err.retryable, ...(err.details !== undefined ? { details: err.details } : {}) } };
  return { isError: true, structuredContent: body, content: [{ type: 'text', text: JSON.stringify(body) }] };
}

/** A silent printer target: the MCP server collects results, it prints nothing. */
const quiet: Out = { json: true, stdout: () => undefined, stderr: () => undefined, color: false };

export interface McpOptions {
  client: HubClient;
  session: string;
  readOnly: boolean;
  tools?: string[];
}

/** Build the MCP server (tests connect to it in memory or over stdio). */
export function buildMcpServer(o: McpOptions): Server {
  const specs = catalogue.list().filter((s) => (!o.readOnly || !s.mutates) && (!o.tools || o.tools.includes(s.name) || o.tools.includes(toolName(s.name))));
  const byTool = new Map(specs.map((s) => [toolName(s.name), s] as const));
  const server = new Server({ name: 'ku', version: KU_VERSION }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: specs.map(toolFor) }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const spec = byTool.get(req.params.name);
    if (!spec) return errorResult(new KuError('KU_ERR_UNKNOWN_OP', `no tool ${req.params.name} on this server`));
    const { host, selector, maxConcurrency, maxErrors, session, ...params } = (req.params.arguments ?? {}) as Json;
    // Bad arguments are refused here, before anything reaches the hub.
    const parsed = spec.params.safeParse(params);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return errorResult(new KuError('KU_ERR_INVALID_PARAMS', issues.map((i) => `${i.path || '(arguments)'}: ${i.message}`).join('; '), { issues }));
    }
    const str = (v: unknown, name: string): string => {
      if (v === undefined) return '';
      if (typeof v !== 'string') throw new KuError('KU_ERR_INVALID_PARAMS', `${name} must be a string`);
      return v;
    };
    const printer = new RunPrinter(quiet, false);
    try {
      const hosts = host === undefined ? [] : Array.isArray(host) ? host.map((h) => str(h, 'host')) : [str(host, 'host')];
      await o.client.run(
        { op: spec.name, params_json: JSON.stringify(parsed.data), hosts, selector: str(selector, 'selector'), timeout_ms: 0, session: str(session, 'session') || o.session, max_concurrency: str(maxConcurrency, 'maxConcurrency'), max_errors: str(maxErrors, 'maxErrors') },
        (ev) => printer.onEvent(ev),
      );
    } catch (e) {
      return errorResult(e instanceof KuError ? e : new KuError('KU_ERR_INTERNAL', String(e)));
    }
    const results = printer.results;
    const body = { results, ...(printer.many ? { summary: printer.summary() } : {}) };
    return { isError: results.length > 0 && results.every((r) => !r.ok), structuredContent: body, content: [{ type: 'text', text: JSON.stringify(body) }] };
  });
  return server;
}

const HELP = `ku mcp [--hub HOST:PORT] [--identity DIR] [--session ID] [--read-only] [--tools op,op,...]

A Model Context Protocol server on stdin/stdout: every ku operation as a tool, called through the
hub with this principal identity (KU_IDENTITY), so roles and audit apply. --read-only exposes only
tools that do not change anything; --tools only the named ones. --session (or KU_SESSION) names the
AI session in the audit log; a call may also pass its own "session".`;

/** `ku mcp`. */
export async function runMcp(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseFlags(argv, { hub: { type: 'string' }, identity: { type: 'string' }, session: { type: 'string' }, 'read-only': { type: 'boolean' }, tools: { type: 'string' } });
  if (helpIf(values.help, HELP)) return 0;
  const settings = resolveSettings(values, env);
  const client = new HubClient(settings);
  const server = buildMcpServer({ client, session: settings.session, readOnly: !!values['read-only'], ...(values.tools ? { tools: values.tools.split(',').map((t) => t.trim()).filter(Boolean) } : {}) });
  await server.connect(new StdioServerTransport());
  await new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  client.close();
  return 0;
}
