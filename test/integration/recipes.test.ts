/** The Goose recipes in deploy/goose parse and use only commands and flags that exist. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMON_FLAGS, paramFlags } from '../../cli/args.js';
import { catalogue } from '../../proto/catalogue/index.js';
import { ROOT } from '../helpers/rig.js';

const dir = join(ROOT, 'deploy/goose');
const recipes = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('Goose recipes', () => {
  it('there are a worker and a reviewer recipe', () => {
    expect(recipes.sort()).toEqual(['pg-index-reviewer.yaml', 'pg-index-worker.yaml']);
  });

  for (const file of recipes) {
    it(`${file} parses, declares its parameters, and names only real ku-pg commands and flags`, () => {
      const r = parse(readFileSync(join(dir, file), 'utf8')) as Record<string, any>;
      for (const k of ['version', 'title', 'description', 'instructions', 'prompt']) expect(r[k], k).toBeTruthy();
      const declared = new Set((r.parameters ?? []).map((p: { key: string }) => p.key));
      for (const m of `${r.instructions}\n${r.prompt}`.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) expect(declared.has(m[1]), `parameter ${m[1]}`).toBe(true);
      const uses = [...String(r.instructions).matchAll(/ku-pg ([a-z-]+)([^\n]*)/g)];
      expect(uses.length).toBeGreaterThan(2);
      for (const [, cmd, rest] of uses) {
        const spec = catalogue.list().find((s) => s.cli.bin === 'ku-pg' && s.cli.command === cmd);
        expect(spec, `ku-pg ${cmd}`).toBeDefined();
        const flags = new Set([...paramFlags(spec!).map((f) => f.flag), ...Object.keys(COMMON_FLAGS)]);
        for (const f of rest!.matchAll(/--([a-z][a-z-]*)/g)) expect(flags.has(f[1]!), `ku-pg ${cmd} --${f[1]}`).toBe(true);
      }
      if (file.includes('reviewer')) {
        // The reviewer only reads.
        for (const [, cmd] of uses) expect(catalogue.list().find((s) => s.cli.command === cmd)!.mutates, cmd).toBe(false);
      }
    });
  }
});
