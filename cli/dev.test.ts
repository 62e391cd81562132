import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { OP_TABLE } from '../agent/ops/index.js';
import { devAgentConfig } from './dev.js';

describe('ku dev allowlist', () => {
  it('reads only by default; --allow-unit adds restarts of exactly those units', () => {
    const ro = parseAgentConfig(devAgentConfig([], true), OP_TABLE);
    expect([...ro.ops.keys()].sort()).toEqual(['diag.host', 'diag.ping', 'diag.service', 'journal.query', 'sys.failed', 'sys.status']);
    const rw = parseAgentConfig(devAgentConfig(['nginx.service', 'app-*'], true), OP_TABLE);
    expect(rw.ops.get('sys.restart')).toMatchObject({ units: ['nginx.service', 'app-*'] });
    expect([...parseAgentConfig(devAgentConfig(['x'], false), OP_TABLE).ops.keys()]).toEqual(['diag.host', 'diag.ping']);
  });

  it('--pg adds every ku-pg op and the database, its URL only through the environment', () => {
    const raw = devAgentConfig([], false, ['shop']);
    expect(JSON.stringify(raw)).not.toContain('postgres://');
    const cfg = parseAgentConfig(raw, OP_TABLE, 'dev', { KU_DEV_PG_SHOP: 'postgres://u:p@127.0.0.1:5432/shop' });
    expect([...cfg.ops.keys()].filter((k) => k.startsWith('pg.')).length).toBe(7);
    expect(cfg.host.postgres.get('shop')!.url()).toBe('postgres://u:p@127.0.0.1:5432/shop');
    expect(cfg.host.postgres.get('shop')!.tables).toEqual(['*.*']);
  });

  it('a working Slurm adds ku-slurm with modest limits, never for root', () => {
    const cfg = parseAgentConfig(devAgentConfig([], false, [], true), OP_TABLE);
    expect(cfg.ops.get('slurm.resubmit')).toMatchObject({ excludeUsers: ['root'], flags: { mem: { max: '4G' } } });
    expect(cfg.ops.has('slurm.job')).toBe(true);
  });
});
