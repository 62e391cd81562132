import { describe, expect, it } from 'vitest';
import { diagHost } from '../proto/catalogue/diag-host.js';
import type { OpSpec } from '../proto/op-spec.js';
import { DEFAULT_ROLES, Policy } from './policy.js';

const restart = { ...diagHost, name: 'sys.restart', mutates: true } as OpSpec;

describe('role policy', () => {
  const p = Policy.parse({
    roles: {
      ...DEFAULT_ROLES.roles,
      web: [{ ops: ['sys.*'], hosts: 'role=web' }],
    },
  });

  it('default deny; globs, read-only rules and host selectors', () => {
    expect(() => p.authorize('admin', restart, 'h', {})).not.toThrow();
    expect(() => p.authorize('reader', diagHost, 'h', {})).not.toThrow();
    expect(() => p.authorize('reader', restart, 'h', {})).toThrow(expect.objectContaining({ code: 'KU_ERR_POLICY_DENIED' }));
    expect(() => p.authorize('web', restart, 'h', { role: 'web' })).not.toThrow();
    expect(() => p.authorize('web', restart, 'h', { role: 'db' })).toThrow(expect.objectContaining({ code: 'KU_ERR_POLICY_DENIED' }));
    expect(() => p.authorize('web', diagHost, 'h', { role: 'web' })).toThrow(expect.objectContaining({ code: 'KU_ERR_POLICY_DENIED' }));
    expect(() => p.authorize('nobody', diagHost, 'h', {})).toThrow(expect.objectContaining({ code: 'KU_ERR_POLICY_DENIED' }));
  });

  it('refuses a malformed roles file with the path of each problem', () => {
    expect(() => Policy.parse({ roles: { x: [{ ops: [] }] } })).toThrow(/roles\.x\.0\.ops/);
    expect(() => Policy.parse({ roles: { x: [{ ops: ['*'], hosts: 'bad selector!' }] } })).toThrow(/roles\.x\.0\.hosts/);
    expect(() => Policy.parse({ roles: {}, extra: 1 })).toThrow(/extra|Unrecognized/);
  });
});
