import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { OP_TABLE } from '../agent/ops/index.js';
import { devAgentConfig } from './dev.js';

describe('ku dev allowlist', () => {
  it('reads only by default; --allow-unit adds restarts of exactly those units', () => {
    const ro = parseAgentConfig(devAgentConfig([], true), OP_TABLE);
    expect([...ro.ops.keys()].sort()).toEqual(['diag.host', 'diag.service', 'journal.query', 'sys.failed', 'sys.status']);
    const rw = parseAgentConfig(devAgentConfig(['nginx.service', 'app-*'], true), OP_TABLE);
    expect(rw.ops.get('sys.restart')).toMatchObject({ units: ['nginx.service', 'app-*'] });
    expect([...parseAgentConfig(devAgentConfig(['x'], false), OP_TABLE).ops.keys()]).toEqual(['diag.host']);
  });
});
