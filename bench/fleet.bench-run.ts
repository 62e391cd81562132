/**
 * Fleet figures: fan-out of a read (diag.ping) to N = 10, 100, 1000 agents (each its own
 * certificate and stream; agents share this process, the hub is a real `ku-hub` process), results
 * per second, hub memory per connected agent, idle RSS and CPU of one real `ku-agent` process, the
 * cold round trip of one CLI call, and the same read through `ssh localhost` and ClusterShell's
 * `clush` (installed and configured here) side by side. Writes bench/results/fleet.{json,md}.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, it } from 'vitest';
import { buildAgent, type Agent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import { OP_TABLE } from '../agent/ops/index.js';
import { buildHub } from '../hub/hub.js';
import { HubState } from '../hub/state.js';
import type { AgentInfo } from '../proto/wire.js';
import { cleanup, cli, control, enrollDirect, identityCreds, results, ROOT, run, runReq, tmp, unary, waitFor, type HubCtx } from '../test/helpers/rig.js';

const children: ChildProcess[] = [];
const agents: Agent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await cleanup();
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)]!;
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const rssKB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

function ensurePackages(): void {
  const missing = [['/usr/sbin/sshd', 'openssh-server'], ['/usr/bin/clush', 'clustershell']].filter(([f]) => spawnSync('test', ['-x', f!]).status !== 0).map(([, p]) => p!);
  if (!missing.length) return;
  const r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`cannot install ${missing.join(' ')}: ${r.stderr}`);
}

/** An sshd of our own on 127.0.0.1, key-only, torn down at the end. */
async function startSshd(dir: string): Promise<{ port: number; opts: string[] }> {
  mkdirSync('/run/sshd', { recursive: true });
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const listen = 'ListenAddress 127.0.0.1';
  writeFileSync(
    join(dir, 'sshd_config'),
    `Port ${port}\n${listen}\nHostKey ${join(dir, 'hostkey')}\nPidFile ${join(dir, 'sshd.pid')}\nAuthorizedKeysFile ${join(dir, 'authorized_keys')}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\nMaxStartups 500:30:1000\nMaxSessions 500\n`,
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  children.push(sshd);
  const opts = ['-p', String(port), '-i', join(dir, 'client'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'];
  await waitFor(() => spawnSync('ssh', [...opts, 'root@127.0.0.1', 'true']).status === 0, 'sshd to accept', 20_000);
  return { port, opts };
}

function time(argv: string[], env: Record<string, string> = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return ms(t0);
}

it('fleet: fan-out, memory, idle cost, cold CLI, and ssh/clush side by side', async () => {
  const SIZES = (process.env.KU_BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
  const dir = tmp('ku-bench-');
  const port = 30000 + Math.floor(Math.random() * 20000);
  const state = await HubState.init(join(dir, 'hub'), { listen: `127.0.0.1:${port}` });
  const hubProc = spawn(process.execPath, [join(ROOT, 'dist/hub/main.js'), 'start', '--state', join(dir, 'hub'), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(hubProc);
  const h = { dir: join(dir, 'hub'), state, addr: `127.0.0.1:${port}`, port } as HubCtx;
  await waitFor(() => spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0, 'the hub process to listen', 20_000);
  const idDir = join(dir, 'principal');
  await state.addPrincipal('bench', 'admin', idDir, { hub: h.addr });
  const c = control(h, identityCreds(idDir));
  const hubRss0 = rssKB(hubProc.pid!);
  const config = parseAgentConfig({ ops: { 'diag.ping': {} } }, OP_TABLE);
  const fanout: Record<string, unknown>[] = [];
  for (const n of SIZES) {
    while (agents.length < n) {
      const batch = Math.min(50, n - agents.length);
      const dirs = await Promise.all(Array.from({ length: batch }, (_, j) => enrollDirect(h, `b-${agents.length + j}`, { bench: 'yes' })));
      for (const d of dirs) {
        const a = buildAgent(d, { config, hub: h.addr });
        a.start();
        agents.push(a);
      }
    }
    await waitFor(async () => (await unary<{ agents: AgentInfo[] }>(c, c.ListAgents, { selector: 'bench=yes' })).agents.filter((a) => a.connected).length === n, `${n} agents`, 180_000);
    const rounds = n <= 100 ? 21 : 7;
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      const out = await run(c, runReq('diag.ping', {}, { selector: 'bench=yes' })).done;
      times.push(ms(t0));
      const got = results(out.events);
      if (got.length !== n || !got.every((x) => x.ok)) throw new Error(`round ${r}: ${got.length} results`);
    }
    fanout.push({
      agents: n,
      rounds,
      medianMs: round(median(times)),
      p99Ms: round(p99(times)),
      resultsPerSec: Math.round(n / (median(times) / 1000)),
      hubRssPerAgentKB: round((rssKB(hubProc.pid!) - hubRss0) / n),
    });
  }

  // One real agent process: idle RSS and CPU.
  const { token } = state.createToken({ real: 'yes' }, 60_000);
  const realDir = join(dir, 'real');
  await cli('ku-agent', ['join', '--hub', h.addr, '--token', token, '--state', realDir, '--name', 'real-agent']);
  const real = spawn(process.execPath, [join(ROOT, 'dist/agent/main.js'), 'start', '--state', realDir, '--log-level', 'warn'], { stdio: 'ignore' });
  children.push(real);
  await waitFor(async () => (await unary<{ agents: AgentInfo[] }>(c, c.ListAgents, { selector: 'real=yes' })).agents.some((a) => a.connected), 'the real agent', 20_000);
  await new Promise((r) => setTimeout(r, 5000)); // settle after start-up
  const ticks0 = cpuTicks(real.pid!);
  const IDLE_S = 20;
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const agentIdle = { rssMB: round(rssKB(real.pid!) / 1024), cpuPct: round(((cpuTicks(real.pid!) - ticks0) / 100 / IDLE_S) * 100, 2), seconds: IDLE_S };

  // Cold round trip of one CLI call (a new process each time).
  const env = { KU_HUB: h.addr, KU_IDENTITY: idDir };
  const cliHost = median(Array.from({ length: 7 }, () => time([process.execPath, join(ROOT, 'dist/cli/ku-diag.js'), 'host', '--host', 'real-agent', '--json'], env)));
  const cliPing = median(Array.from({ length: 7 }, () => time([process.execPath, join(ROOT, 'dist/cli/ku-diag.js'), 'ping', '--host', 'real-agent', '--json'], env)));

  // The same read through ssh and clush.
  ensurePackages();
  const sshDir = tmp('ku-bench-ssh-');
  const { opts } = await startSshd(sshDir);
  const ssh1 = median(Array.from({ length: 7 }, () => time(['ssh', ...opts, 'root@127.0.0.1', 'uptime'])));
  // clush to N host names that all resolve to this machine's sshd (HostName=127.0.0.1): N real ssh sessions.
  const clushOpts = [...opts, '-o', 'HostName=127.0.0.1'].join(' ');
  const clush = (n: number): number => median(Array.from({ length: n >= 100 ? 3 : 5 }, () => time(['clush', '-f', '256', '-o', clushOpts, '-w', `node[1-${n}]`, 'uptime'])));
  const peers = { sshLocalhostMs: round(ssh1), clush1Ms: round(clush(1)), clush10Ms: round(clush(10)), clush100Ms: round(clush(100)) };

  const figures = { fanout, agentIdle, cliColdMs: { diagHost: round(cliHost), diagPing: round(cliPing) }, peers, machine: '2 cores, Debian 12, Node 20', at: new Date().toISOString() };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/fleet.json'), `${JSON.stringify(figures, null, 2)}\n`);
  const lines = [
    'Fan-out of diag.ping (hub process + in-process agents, each its own cert and stream):',
    '  agents   median ms   p99 ms   results/s   hub RSS per agent',
    ...fanout.map((f) => `  ${String(f.agents).padEnd(8)} ${String(f.medianMs).padEnd(11)} ${String(f.p99Ms).padEnd(8)} ${String(f.resultsPerSec).padEnd(11)} ${f.hubRssPerAgentKB} KB`),
    `One real ku-agent process, idle ${IDLE_S} s: ${agentIdle.rssMB} MB RSS, ${agentIdle.cpuPct} % CPU`,
    `Cold CLI round trip (new process, mTLS, hub, agent, back): ku-diag host ${round(cliHost)} ms, ku-diag ping ${round(cliPing)} ms`,
    `Same read through peers: ssh localhost uptime ${peers.sshLocalhostMs} ms; clush uptime on 1 / 10 / 100 hosts (ssh sessions to this machine): ${peers.clush1Ms} / ${peers.clush10Ms} / ${peers.clush100Ms} ms`,
  ];
  writeFileSync(join(ROOT, 'bench/results/fleet.md'), `${lines.join('\n')}\n`);
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
  hubProc.kill('SIGTERM');
}, 1_500_000);
