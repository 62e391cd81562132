import { describe, expect, it } from 'vitest';
import { defaultAgentConfig, parseAgentConfig } from './config.js';
import { backoffDelay } from './link.js';
import { OP_TABLE } from './ops/index.js';

describe('agent config', () => {
  it('parses limits with defaults', () => {
    const c = parseAgentConfig({ ops: { 'diag.host': { maxTop: 3 } } }, OP_TABLE);
    expect(c.ops.get('diag.host')).toEqual({ maxTop: 3 });
    expect(parseAgentConfig({ ops: { 'diag.host': null } }, OP_TABLE).ops.get('diag.host')).toEqual({ maxTop: 20 });
  });

  it('reports every problem at once, with paths', () => {
    let msg = '';
    try {
      parseAgentConfig({ ops: { 'diag.host': { maxTop: 'x', extra: 1 }, 'sys.shell': {} }, bogus: true }, OP_TABLE);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/bogus/);
    try {
      parseAgentConfig({ ops: { 'diag.host': { maxTop: 'x', extra: 1 }, 'sys.shell': {} } }, OP_TABLE);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/ops\.diag\.host\.maxTop/);
    expect(msg).toMatch(/ops\.diag\.host\./);
    expect(msg).toMatch(/ops\.sys\.shell: no such operation/);
  });

  it('the default allows read-only ops only', () => {
    const c = defaultAgentConfig(OP_TABLE);
    for (const name of c.ops.keys()) expect(OP_TABLE.find((i) => i.spec.name === name)!.spec.mutates).toBe(false);
    expect(c.ops.size).toBe(OP_TABLE.filter((i) => !i.spec.mutates).length);
  });
});

describe('reconnect backoff', () => {
  it('is full-jitter exponential and capped', () => {
    const o = { baseMs: 100, capMs: 5000 };
    expect(backoffDelay(0, o, () => 0.999)).toBe(99);
    expect(backoffDelay(3, o, () => 0.5)).toBe(400);
    expect(backoffDelay(50, o, () => 0.999)).toBe(4995);
    expect(backoffDelay(5, o, () => 0)).toBe(0);
  });
});
