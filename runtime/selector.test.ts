import { describe, expect, it } from 'vitest';
import { matches, parseLabels, parseSelector } from './selector.js';
import { parseDuration } from './duration.js';
import { parseJoinToken } from './join-token.js';

describe('labels and selectors', () => {
  it('parses labels and refuses malformed or duplicate ones', () => {
    expect(parseLabels('env=prod, role=web')).toEqual({ env: 'prod', role: 'web' });
    expect(parseLabels('')).toEqual({});
    expect(() => parseLabels('env')).toThrow(/invalid label/);
    expect(() => parseLabels('env=a,env=b')).toThrow(/duplicate/);
    expect(() => parseLabels('env=$(id)')).toThrow(/invalid label/);
  });

  it('matches =, != and in', () => {
    const l = { env: 'prod', role: 'web' };
    expect(matches(parseSelector('env=prod'), l)).toBe(true);
    expect(matches(parseSelector('env=prod,role!=web'), l)).toBe(false);
    expect(matches(parseSelector('role in (db, web)'), l)).toBe(true);
    expect(matches(parseSelector('zone in (a,b)'), l)).toBe(false);
    expect(matches(parseSelector('zone!=a'), l)).toBe(true);
    expect(matches(parseSelector('env==prod'), l)).toBe(true);
  });

  it('refuses malformed selectors', () => {
    for (const bad of ['env', 'env=prod;rm', 'role in web', 'a=b=c', '=x']) expect(() => parseSelector(bad), bad).toThrow(/invalid selector/);
  });
});

describe('durations and tokens', () => {
  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('1 hour')).toThrow();
    expect(() => parseDuration('0s')).toThrow();
  });

  it('splits join tokens and refuses malformed ones', () => {
    const t = `ku1.${'a'.repeat(16)}.${'b'.repeat(43)}.${'c'.repeat(43)}`;
    expect(parseJoinToken(t)).toEqual({ id: 'a'.repeat(16), secret: 'b'.repeat(43), pin: 'c'.repeat(43) });
    expect(() => parseJoinToken('ku1.short')).toThrow(expect.objectContaining({ code: 'KU_ERR_JOIN_TOKEN_INVALID' }));
  });
});
