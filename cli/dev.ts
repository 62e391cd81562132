/**
 * `ku dev`: a hub plus an agent for this machine with generated credentials,
 * as two child processes (`ku-hub start`, `ku-agent start`) over a state
 * directory that is reused on the next start. The hub's part has the layout of
 * `ku-hub init --state`, so every ku-hub admin command works on it.
 *
 *   DIR/hub/        hub state         DIR/hub.log, DIR/agent.log   JSON logs
 *   DIR/agent/      agent state + config.json (dev allowlist)
 *   DIR/principal/  the dev principal identity (re-issued at every start)
 *   DIR/env         the export lines printed at start
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KuError } from '../proto/errors.js';
import { helpIf, parseFlags } from '../runtime/cli-util.js';

/**
 * How to start ku-hub and ku-agent. From a checkout or an npm install: this Node.js with their
 * modules beside this one (and the repository's bin/ of shims for the printed PATH). From the
 * single executable of `npm run package`, where there are no modules: the ku-hub and ku-agent
 * executables installed beside it (the packages put all three in /usr/bin).
 */
function programs(): { hub: string[]; agent: string[]; binDir: string | null } {
  // esbuild's CommonJS bundle leaves import.meta empty: that is the single executable.
  const here = (import.meta as { url?: string }).url;
  if (here) {
    return {
      hub: [process.execPath, fileURLToPath(new URL('../hub/main.js', here))],
      agent: [process.execPath, fileURLToPath(new URL('../agent/main.js', here))],
      binDir: fileURLToPath(new URL('../../bin', here)),
    };
  }
  const beside = (name: string): string[] => {
    const p = join(dirname(process.execPath), name);
    if (!existsSync(p)) throw new KuError('KU_ERR_USAGE', `ku dev starts ${name}, which is not installed beside ${process.execPath}: install the ${name} package too (or run ku dev from a checkout: npm start)`);
    return [p];
  };
  return { hub: beside('ku-hub'), agent: beside('ku-agent'), binDir: null };
}

export function defaultDevState(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'ku', 'dev');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Run a ku program to completion; its stdout, or a KuError with its stderr. */
function runSync(program: string[], args: string[]): string {
  const r = spawnSync(program[0]!, [...program.slice(1), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new KuError('KU_ERR_INTERNAL', `${program.at(-1)!.split('/').slice(-2).join('/')} ${args[0]} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

function waitPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) return reject(new KuError('KU_ERR_INTERNAL', `hub exited with code ${child.exitCode}; see its log`));
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new KuError('KU_ERR_HUB_UNREACHABLE', `hub did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function startChild(program: string[], args: string[], logPath: string, env: Record<string, string> = {}): ChildProcess {
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(program[0]!, [...program.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Whether this machine has a working Slurm: `yes` when sinfo answers, `silent` when sinfo is
 * installed but its controller does not answer, `no` without sinfo. Asked while the hub starts,
 * and not for long: a controller that is down keeps sinfo retrying for about ten seconds, while a
 * working one answers in tens of milliseconds.
 */
function hasSlurm(): Promise<'yes' | 'silent' | 'no'> {
  return new Promise((resolve) => {
    const child = spawn('sinfo', ['-h', '-o', '%P'], { stdio: 'ignore', timeout: 2000 });
    child.once('error', () => resolve('no'));
    child.once('exit', (code) => resolve(code === 0 ? 'yes' : 'silent'));
  });
}

/** Whether this machine was booted with systemd (its D-Bus API and journal are there). */
const hasSystemd = (): boolean => existsSync('/run/systemd/system');

/**
 * The dev agent's allowlist: reads only (host, and with systemd: unit status,
 * failed units, journal), plus restarts of the units named by --allow-unit.
 */
export function devAgentConfig(allowUnits: string[], systemd: boolean, pgNames: string[] = [], slurm = false): { ops: Record<string, object>; postgres?: object } {
  const ops: Record<string, object> = { 'diag.host': {}, 'diag.ping': {} };
  if (slurm) {
    // Modest limits for trying resubmission on a local cluster; never root's jobs.
    ops['slurm.job'] = {};
    ops['slurm.resubmit'] = { flags: { requeue: {}, mem: { max: '4G' }, time: { max: '04:00:00' }, 'cpus-per-task': { max: 4 } }, excludeUsers: ['root'], maxResubmits: 3 };
  }
  if (pgNames.length) {
    for (const op of ['pg.top-queries', 'pg.explain', 'pg.advise', 'pg.verify-index', 'pg.builds', 'pg.apply-index', 'pg.drop-index']) ops[op] = {};
  }
  if (systemd) {
    Object.assign(ops, { 'sys.status': {}, 'sys.failed': {}, 'journal.query': {}, 'diag.service': {} });
    if (allowUnits.length) ops['sys.restart'] = { units: allowUnits, budget: { max: 5, windowMinutes: 10 } };
  }
  if (!pgNames.length) return { ops };
  // Every non-system table; the URL reaches the agent through its environment, never its config or argv.
  const databases = Object.fromEntries(pgNames.map((n) => [n, { urlEnv: devPgEnv(n), tables: ['*.*'] }]));
  return { ops, postgres: { databases } };
}

/** The environment variable that carries a dev database URL to the agent. */
export const devPgEnv = (name: string): string => `KU_DEV_PG_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

const HELP = `ku dev [--state DIR] [--port N] [--allow-unit GLOB ...] [--pg NAME=postgres://... ...]

Starts a hub on 127.0.0.1 and an agent for this machine, joined with a real
token, writes a dev principal identity, and prints the export lines that make
every ku-* command work from another terminal. Runs until Ctrl-C, then stops
both. The dev agent may only read (host facts, and on a systemd machine unit
status, failed units and the journal); --allow-unit GLOB (repeatable, e.g.
nginx.service or 'app-*') also lets it restart those units. --pg NAME=URL
(repeatable) adds a database for every ku-pg command, all non-system tables.
When this machine has a working Slurm (sinfo answers), ku-slurm is on too. State (default \${XDG_STATE_HOME:-~/.local/state}/ku/dev) is reused on the
next start; --port applies when the state is first made.`;

/** `ku dev`. */
export async function runDev(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseFlags(argv, { state: { type: 'string' }, port: { type: 'string' }, 'allow-unit': { type: 'string', multiple: true }, pg: { type: 'string', multiple: true } });
  const pgEnv: Record<string, string> = {};
  const pgNames: string[] = [];
  for (const spec of values.pg ?? []) {
    const m = /^([A-Za-z0-9_-]{1,63})=(postgres(ql)?:\/\/.+)$/.exec(spec);
    if (!m) throw new KuError('KU_ERR_USAGE', '--pg takes NAME=postgres://USER:PASSWORD@HOST:PORT/DB');
    pgNames.push(m[1]!);
    pgEnv[devPgEnv(m[1]!)] = m[2]!;
  }
  const allowUnits = values['allow-unit'] ?? [];
  for (const g of allowUnits) if (!/^[A-Za-z0-9:_.@*\\-]+$/.test(g)) throw new KuError('KU_ERR_USAGE', `--allow-unit ${JSON.stringify(g)}: unit names or globs with *`);
  if (helpIf(values.help, HELP)) return 0;
  const { hub: HUB_MAIN, agent: AGENT_MAIN, binDir: BIN_DIR } = programs();
  const dir = values.state ?? defaultDevState(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hubDir = join(dir, 'hub');
  const agentDir = join(dir, 'agent');
  const principalDir = join(dir, 'principal');
  if (!existsSync(join(hubDir, 'hub.json'))) {
    const port = values.port ? Number(values.port) : await freePort();
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new KuError('KU_ERR_USAGE', '--port takes a TCP port number');
    runSync(HUB_MAIN, ['init', '--state', hubDir, '--listen', `127.0.0.1:${port}`, '--name', 'dev-hub']);
  }
  const listen = (JSON.parse(readFileSync(join(hubDir, 'hub.json'), 'utf8')) as { listen: string }).listen;
  const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
  const hubAddr = `127.0.0.1:${port}`;
  const say = (s: string): boolean => process.stderr.write(`${s}\n`);
  const slurmAnswers = hasSlurm();
  const hub = startChild(HUB_MAIN, ['start', '--state', hubDir], join(dir, 'hub.log'));
  const children: ChildProcess[] = [hub];
  const stopAll = async (): Promise<void> => {
    for (const c of [...children].reverse()) await stopChild(c);
  };
  try {
    await waitPort(port, hub, 15_000);
    say(`hub    listening on ${hubAddr} (log ${join(dir, 'hub.log')})`);
    const name = (hostname().split('.')[0] || 'localhost').toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 63);
    if (!existsSync(join(agentDir, 'agent.json'))) {
      const token = runSync(HUB_MAIN, ['token', 'create', '--state', hubDir, '--labels', `env=dev,host=${name}`, '--ttl', '10m']);
      runSync(AGENT_MAIN, ['join', '--hub', hubAddr, '--token', token, '--state', agentDir, '--name', name]);
    }
    // Rewritten at every start: the flags of this run decide what the dev agent may do.
    const systemd = hasSystemd();
    const slurmState = await slurmAnswers;
    const slurm = slurmState === 'yes';
    writeFileSync(join(agentDir, 'config.json'), `${JSON.stringify(devAgentConfig(allowUnits, systemd, pgNames, slurm), null, 2)}\n`);
    if (slurm) say('note   Slurm answers here: ku-slurm job and resubmit are on (resubmission needs ku dev to run as root)');
    else if (slurmState === 'silent') say('note   Slurm is installed but sinfo did not answer: ku-slurm is off (start slurmctld, then restart ku dev)');
    if (!systemd) say('note   this machine did not boot with systemd: sys.* and journal ops are off');
    else if (!allowUnits.length) say('note   restarts are off; allow some with --allow-unit GLOB');
    const agent = startChild(AGENT_MAIN, ['start', '--state', agentDir, '--hub', hubAddr], join(dir, 'agent.log'), pgEnv);
    children.push(agent);
    runSync(HUB_MAIN, ['principal', 'add', 'dev', '--role', 'admin', '--out', principalDir, '--state', hubDir, '--hub', hubAddr]);
    const { HubClient } = await import('./client.js');
    const client = new HubClient({ hub: hubAddr, identityDir: principalDir, session: '' });
    try {
      const until = Date.now() + 15_000;
      while (!(await client.listAgents()).some((a) => a.connected)) {
        if (agent.exitCode !== null) throw new KuError('KU_ERR_INTERNAL', `agent exited with code ${agent.exitCode}; see ${join(dir, 'agent.log')}`);
        if (Date.now() > until) throw new KuError('KU_ERR_AGENT_OFFLINE', `agent did not connect within 15 s; see ${join(dir, 'agent.log')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      client.close();
    }
    say(`agent  ${name} connected (log ${join(dir, 'agent.log')})`);
    const exports = `export KU_HUB=${hubAddr}\nexport KU_IDENTITY=${principalDir}\n${BIN_DIR && existsSync(BIN_DIR) ? `export PATH="${BIN_DIR}:$PATH"\n` : ''}`;
    writeFileSync(join(dir, 'env'), exports);
    say('\nPaste these lines in another terminal, then try `ku-diag host`:\n');
    process.stdout.write(exports);
    say(`\n(also in ${join(dir, 'env')}; audit: ku-hub audit tail --state ${hubDir})\nCtrl-C stops the hub and the agent.`);
    const code = await new Promise<number>((resolve) => {
      process.once('SIGINT', () => resolve(0));
      process.once('SIGTERM', () => resolve(0));
      for (const c of children) c.once('exit', (code) => resolve(code === 0 ? 0 : 1));
    });
    say('stopping');
    await stopAll();
    return code;
  } catch (e) {
    await stopAll();
    throw e;
  }
}
