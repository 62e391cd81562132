import { describe, expect, it } from 'vitest';
import { execArgv } from './executor.js';

describe('executor', () => {
  it('passes arguments as argv, never through a shell', async () => {
    const r = await execArgv(['/bin/echo', '$(id)', '; rm -rf /', '`x`'], { timeoutMs: 5000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('$(id) ; rm -rf / `x`\n');
  });

  it('kills a program at its deadline', async () => {
    const r = await execArgv(['/bin/sleep', '30'], { timeoutMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
  });

  it('kills a program when aborted', async () => {
    const ac = new AbortController();
    const p = execArgv(['/bin/sleep', '30'], { timeoutMs: 30_000, signal: ac.signal });
    ac.abort();
    const r = await p;
    expect(r.aborted).toBe(true);
    expect(r.code).toBeNull();
  });

  it('caps captured output and says so', async () => {
    const r = await execArgv(['/usr/bin/head', '-c', '100000', '/dev/zero'], { timeoutMs: 5000, maxOutputBytes: 1000 });
    expect(r.stdout.length).toBe(1000);
    expect(r.truncated).toBe(true);
  });

  it('does not leak the agent environment and refuses bad argv', async () => {
    const r = await execArgv(['/usr/bin/env'], { timeoutMs: 5000 });
    expect(r.stdout).not.toContain('HOME=');
    await expect(execArgv([], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'KU_ERR_INTERNAL' });
    await expect(execArgv(['/bin/echo', 'a\0b'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'KU_ERR_INTERNAL' });
    await expect(execArgv(['/no/such/program'], { timeoutMs: 100 })).rejects.toMatchObject({ code: 'KU_ERR_OP_FAILED' });
  });

  it('streams lines and stops the program when the reader has enough', async () => {
    const seen: string[] = [];
    const r = await execArgv(['/usr/bin/seq', '1', '1000000'], { timeoutMs: 10_000, onLine: (l) => (seen.push(l), seen.length < 5) });
    expect(seen).toEqual(['1', '2', '3', '4', '5']);
    expect(r.stoppedEarly).toBe(true);
    expect(r.stdout).toBe('');
  });
});
