import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineOp } from '../proto/op-spec.js';
import { diagHost } from '../proto/catalogue/diag-host.js';
import { pgApplyIndex } from '../proto/catalogue/pg-ops.js';
import { opHelp, paramFlags, parseOpArgs, validateParams } from './args.js';

const spec = defineOp({
  name: 'x.demo',
  summary: 'demo',
  mutates: true,
  risk: 'low',
  timeoutMs: 1000,
  params: z
    .object({
      unit: z.string().describe('unit name'),
      maxLines: z.number().int().max(100).default(10).describe('lines'),
      dryRun: z.boolean().default(false).describe('only say what would happen'),
      column: z.array(z.string()).min(1).optional().describe('columns'),
    })
    .strict(),
  result: z.object({}),
  errors: [],
  cli: { bin: 'ku-sys', command: 'demo', positional: ['unit'] },
});

describe('flags derived from the op spec', () => {
  it('maps params to kebab-case flags with kinds', () => {
    expect(paramFlags(spec).map((f) => [f.flag, f.kind, f.required])).toEqual([
      ['unit', 'string', true],
      ['max-lines', 'integer', false],
      ['dry-run', 'boolean', false],
      ['column', 'string[]', false],
    ]);
  });

  it('parses positionals, numbers, booleans and repeated flags', () => {
    const r = parseOpArgs(spec, ['nginx', '--max-lines', '5', '--dry-run', '--column', 'a', '--column', 'b', '--host', 'h1', '--json']);
    expect(r.params).toEqual({ unit: 'nginx', maxLines: 5, dryRun: true, column: ['a', 'b'] });
    expect(r.common).toEqual({ host: ['h1'], json: true });
  });

  it('keeps negative numbers with their flag', () => {
    expect(parseOpArgs(spec, ['u', '--max-lines', '-5']).params.maxLines).toBe(-5);
  });

  it('refuses non-numbers, unknown flags, extra arguments and the same param twice', () => {
    expect(() => parseOpArgs(spec, ['u', '--max-lines', '5x'])).toThrow(expect.objectContaining({ code: 'KU_ERR_INVALID_PARAMS' }));
    expect(() => parseOpArgs(spec, ['u', '--evil'])).toThrow(expect.objectContaining({ code: 'KU_ERR_USAGE' }));
    expect(() => parseOpArgs(spec, ['u', 'v'])).toThrow(expect.objectContaining({ code: 'KU_ERR_USAGE' }));
    expect(() => parseOpArgs(spec, ['u', '--unit', 'v'])).toThrow(expect.objectContaining({ code: 'KU_ERR_USAGE' }));
  });

  it('takes a flag alias for its flag, and refuses both at once', () => {
    expect(parseOpArgs(pgApplyIndex, ['--table', 't', '--column', 'c', '--for-query', 'SELECT 1']).params).toEqual({ table: 't', column: ['c'], query: 'SELECT 1' });
    expect(parseOpArgs(pgApplyIndex, ['--table', 't', '--column', 'c', '--for-query=SELECT 1']).params.query).toBe('SELECT 1');
    expect(() => parseOpArgs(pgApplyIndex, ['--table', 't', '--column', 'c', '--for-query', 'a', '--query', 'b'])).toThrow(expect.objectContaining({ code: 'KU_ERR_USAGE' }));
    expect(opHelp(pgApplyIndex)).toMatch(/--query VALUE\s+the query, as SQL \(also --for-query\)/);
  });

  it('validates against the schema and names the flag at fault', () => {
    expect(validateParams(spec, { unit: 'a' })).toEqual({ unit: 'a', maxLines: 10, dryRun: false });
    expect(() => validateParams(spec, { unit: 'a', maxLines: 1000 })).toThrow(/--max-lines/);
    expect(() => validateParams(spec, {})).toThrow(expect.objectContaining({ code: 'KU_ERR_INVALID_PARAMS' }));
  });

  it('help lists every flag with its description and default', () => {
    const h = opHelp(diagHost);
    expect(h).toMatch(/^ku-diag host/);
    expect(h).toMatch(/--top N\s+how many top processes .*default 5/);
  });
});
