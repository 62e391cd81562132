/** The Goose set-up in deploy/goose parses, uses ku's MCP tools only, and names only tools that exist. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { toolFor, toolName } from '../../cli/mcp.js';
import { catalogue } from '../../proto/catalogue/index.js';
import { ROOT } from '../helpers/rig.js';

const dir = join(ROOT, 'deploy/goose');
const recipes = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'config.yaml');
const tools = new Map(catalogue.list().map((s) => [toolName(s.name), s] as const));

describe('Goose set-up', () => {
  it('config.yaml adds ku mcp and turns the shell off', () => {
    const cfg = parse(readFileSync(join(dir, 'config.yaml'), 'utf8')) as Record<string, any>;
    expect(cfg.extensions.ku).toMatchObject({ enabled: true, type: 'stdio', cmd: 'ku', args: ['mcp'] });
    expect(cfg.extensions.developer.enabled).toBe(false);
  });

  it('there are a worker and a reviewer recipe', () => {
    expect(recipes.sort()).toEqual(['pg-index-reviewer.yaml', 'pg-index-worker.yaml']);
  });

  for (const file of recipes) {
    it(`${file} parses, declares its parameters, and uses only ku tools that exist, with real arguments`, () => {
      const r = parse(readFileSync(join(dir, file), 'utf8')) as Record<string, any>;
      for (const k of ['version', 'title', 'description', 'instructions', 'prompt']) expect(r[k], k).toBeTruthy();
      const declared = new Set((r.parameters ?? []).map((p: { key: string }) => p.key));
      for (const m of `${r.instructions}\n${r.prompt}`.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) expect(declared.has(m[1]), `parameter ${m[1]}`).toBe(true);
      expect(r.extensions.map((e: { name: string }) => e.name)).toEqual(['ku']); // no shell
      const ext = r.extensions[0];
      const allowed = String(ext.args[ext.args.indexOf('--tools') + 1]).split(',');
      const uses = [...String(r.instructions).matchAll(/^\s+(pg_[a-z-]+)\s+\{([^}]*)\}/gm)];
      expect(uses.length).toBeGreaterThan(2);
      for (const [, name, args] of uses) {
        const spec = tools.get(name!);
        expect(spec, name).toBeDefined();
        expect(allowed, `${name} in --tools`).toContain(spec!.name);
        const props = Object.keys(toolFor(spec!).inputSchema.properties ?? {});
        for (const a of args!.matchAll(/(\w+):/g)) expect(props, `${name} ${a[1]}`).toContain(a[1]);
      }
      if (file.includes('reviewer')) {
        expect(ext.args).toContain('--read-only');
        for (const op of allowed) expect(catalogue.get(op)!.mutates, op).toBe(false);
      }
    });
  }
});
