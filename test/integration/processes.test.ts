/**
 * The programs as an operator runs them: ku-hub, ku-agent and the CLIs as
 * separate processes, and `ku dev` as the one-command start of the README.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, cli, ROOT, tmp, waitFor } from '../helpers/rig.js';

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cleanup();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function start(main: string, args: string[], env: Record<string, string> = {}): ChildProcess & { out: () => string } {
  const child = spawn(process.execPath, [join(ROOT, main), ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  children.push(child);
  return Object.assign(child, { out: () => out });
}

const exited = (c: ChildProcess): Promise<number | null> => (c.exitCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once('exit', (code) => r(code))));

describe('operator workflow with real processes', () => {
  it('init, token, join, start, principal, query, revoke', async () => {
    const dir = tmp();
    const hubState = join(dir, 'hub');
    const port = await freePort();
    const init = await cli('ku-hub', ['init', '--state', hubState, '--listen', `127.0.0.1:${port}`]);
    expect(init.code).toBe(0);
    expect((await cli('ku-hub', ['init', '--state', hubState])).code).toBe(2); // never overwrite a CA
    const hub = start('dist/hub/main.js', ['start', '--state', hubState]);
    await waitFor(() => hub.out().includes('hub listening'), 'hub to listen');
    const tok = await cli('ku-hub', ['token', 'create', '--state', hubState, '--labels', 'env=staging,role=web', '--ttl', '5m', '--json']);
    expect(tok.code).toBe(0);
    const { token } = JSON.parse(tok.stdout);
    const agentState = join(dir, 'agent');
    const joined = await cli('ku-agent', ['join', '--hub', `127.0.0.1:${port}`, '--token', token, '--state', agentState, '--name', 'web-1']);
    expect(joined.stdout).toMatch(/joined as web-1/);
    const agent = start('dist/agent/main.js', ['start', '--state', agentState]);
    await waitFor(() => agent.out().includes('connected to hub'), 'agent to connect');
    const id = join(dir, 'alice');
    expect((await cli('ku-hub', ['principal', 'add', 'alice', '--role', 'admin', '--out', id, '--state', hubState])).code).toBe(0);
    expect((await cli('ku-hub', ['principal', 'add', 'bob', '--role', 'no-such-role', '--out', join(dir, 'bob'), '--state', hubState])).code).toBe(2);
    // The identity directory carries the hub address: KU_IDENTITY alone is enough.
    const agents = await cli('ku', ['agents', '--json'], { KU_IDENTITY: id });
    expect(agents.code).toBe(0);
    expect(JSON.parse(agents.stdout)).toMatchObject({ name: 'web-1', labels: { env: 'staging', role: 'web' }, connected: true });
    const host = await cli('ku-diag', ['host', '--selector', 'role=web', '--json'], { KU_IDENTITY: id });
    expect(host.code).toBe(0);
    expect(JSON.parse(host.stdout)).toMatchObject({ host: 'web-1', ok: true });
    const revoke = await cli('ku-hub', ['revoke', 'agent', 'web-1', '--state', hubState]);
    expect(revoke.code).toBe(0);
    expect(await exited(agent)).toBe(3); // the agent stops: refused for good
    expect(agent.out()).toMatch(/KU_ERR_AUTH_REVOKED/);
    const after = await cli('ku-diag', ['host', '--host', 'web-1', '--json'], { KU_IDENTITY: id });
    expect(after.code).toBe(2); // no longer a known target
    expect(JSON.parse(after.stdout).error.code).toBe('KU_ERR_TARGET_UNKNOWN');
    hub.kill('SIGTERM');
    expect(await exited(hub)).toBe(0);
    expect((await cli('ku-hub', ['audit', 'verify', '--state', hubState])).code).toBe(0);
  });

  it('every program answers --help with exit 0 and unknown commands with exit 2', async () => {
    for (const bin of ['ku', 'ku-hub', 'ku-agent', 'ku-diag', 'ku-sys', 'ku-pg', 'ku-slurm', 'ku-k8s']) {
      const h = await cli(bin, ['--help']);
      expect(h.code, bin).toBe(0);
      expect(h.stdout, bin).toMatch(new RegExp(`^${bin}`));
      const bad = await cli(bin, ['no-such-command', '--json']);
      expect(bad.code, bin).toBe(2);
      expect(JSON.parse(bad.stdout).error.code).toBe('KU_ERR_USAGE');
    }
    expect((await cli('ku-diag', ['host', '--help'])).stdout).toMatch(/--top N/);
    expect((await cli('ku-hub', ['token', 'create', '--help'])).code).toBe(0);
  });

  it('a reader that goes away (ku ops | head) ends the program quietly with its own exit code', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/cli/ku.js'), 'ops', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy(); // closed before the program writes a byte
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    expect(await exited(child)).toBe(0);
    expect(err).toBe('');
  });
});

describe('ku dev', () => {
  it('starts a hub and an agent, prints exports that make ku-diag host work, reuses state, stops cleanly', async () => {
    const state = join(tmp(), 'dev');
    for (const round of [1, 2]) {
      const dev = start('dist/cli/ku.js', ['dev', '--state', state]);
      await waitFor(() => /export KU_IDENTITY=/.test(dev.out()), `ku dev to print exports (round ${round})`, 30_000);
      const env = Object.fromEntries([...dev.out().matchAll(/^export (KU_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(Object.keys(env).sort()).toEqual(['KU_HUB', 'KU_IDENTITY']);
      expect(readFileSync(join(state, 'env'), 'utf8')).toContain(`export KU_HUB=${env.KU_HUB}`);
      const r = await cli('ku-diag', ['host', '--json'], env);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).ok).toBe(true);
      dev.kill('SIGINT');
      expect(await exited(dev)).toBe(0);
      const down = await cli('ku-diag', ['host', '--json'], env);
      expect(down.code).toBe(4); // both stopped: nothing answers
    }
    // The hub part has the ku-hub layout: admin commands work on it.
    expect(existsSync(join(state, 'hub', 'ca.key'))).toBe(true);
    const v = await cli('ku-hub', ['audit', 'verify', '--state', join(state, 'hub')]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/audit log ok/);
  });
});
