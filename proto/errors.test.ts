import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, exitCodeOf, KuError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { CATALOGUE } from './catalogue/index.js';

describe('error registry', () => {
  it('every code is KU_ERR_DOMAIN_REASON and has a one-line hint', () => {
    for (const [code, def] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^KU_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(def.hint.length, code).toBeGreaterThan(20);
      expect(def.hint).not.toContain('\n');
    }
  });

  it('maps codes to the exit codes of DESIGN.md', () => {
    expect(exitCodeOf('KU_ERR_OP_FAILED')).toBe(1);
    expect(exitCodeOf('KU_ERR_INVALID_PARAMS')).toBe(2);
    expect(exitCodeOf('KU_ERR_POLICY_DENIED')).toBe(3);
    expect(exitCodeOf('KU_ERR_OP_NOT_ALLOWED')).toBe(3);
    expect(exitCodeOf('KU_ERR_HUB_UNREACHABLE')).toBe(4);
    expect(exitCodeOf('KU_ERR_TIMEOUT')).toBe(4);
    expect(new Set(Object.keys(ERRORS).map((c) => exitCodeOf(c as keyof typeof ERRORS)))).toEqual(new Set([EXIT.failed, EXIT.input, EXIT.denied, EXIT.unavailable]));
  });

  it('every code, with its exit code, is documented in README.md', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ERRORS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, `${code} missing from README`).toBeDefined();
      expect(row, code).toContain(`| ${exitCodeOf(code as keyof typeof ERRORS)} |`);
    }
  });

  it('round-trips through its wire body; unknown codes become internal errors', () => {
    const e = new KuError('KU_ERR_TIMEOUT', 'slow', { ms: 5 });
    expect(KuError.fromBody(e.toBody())).toMatchObject({ code: 'KU_ERR_TIMEOUT', message: 'slow', details: { ms: 5 }, retryable: true });
    expect(KuError.fromBody({ code: 'KU_ERR_MADE_UP', message: 'x' }).code).toBe('KU_ERR_INTERNAL');
  });

  it('every op declares only registered error codes and describes every param', () => {
    for (const spec of CATALOGUE) {
      for (const c of spec.errors) expect(Object.hasOwn(ERRORS, c), `${spec.name}: ${c}`).toBe(true);
      expect(spec.name).toMatch(/^[a-z0-9]+\.[a-z0-9-]+$/);
      for (const [k, v] of Object.entries(spec.params.shape)) expect((v as { description?: string }).description, `${spec.name}.${k}`).toBeTruthy();
    }
  });
});
