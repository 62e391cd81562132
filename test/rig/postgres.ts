/**
 * An ephemeral PostgreSQL 15 cluster with pg_stat_statements and hypopg
 * (shared/RIG.md §1): its own directory, a free port on 127.0.0.1, torn down
 * by `stop()`. Runs the server as the postgres user (it refuses root).
 */
import { requireRig } from './gate.js';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PgInstance {
  dir: string;
  port: number;
  /** connection URL for a user and database (default: postgres/postgres) */
  url(user?: string, db?: string, password?: string): string;
  /** run SQL as the superuser; returns rows */
  sql<T = Record<string, unknown>>(text: string, values?: unknown[], db?: string): Promise<T[]>;
  /** run a SQL file with psql as the superuser, with -v variables; returns exit code and output */
  psqlFile(file: string, vars: Record<string, string>, db?: string): { code: number; out: string };
  /** a connected client (closed by stop) */
  client(user?: string, db?: string, password?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** Why the rig cannot run here, or null. */
export function postgresRigUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the PostgreSQL rig needs root (it runs the server as postgres)';
  if (!existsSync(join(BIN, 'initdb'))) return 'PostgreSQL 15 is not installed';
  if (!existsSync('/usr/share/postgresql/15/extension/hypopg.control')) return 'hypopg is missing (apt-get install postgresql-15-hypopg)';
  return null;
}

/** True when the rig can run (see gate.ts). */
export function requirePostgresRig(env: NodeJS.ProcessEnv = process.env): boolean {
  return requireRig('PostgreSQL', postgresRigUnavailable(), env);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function asPostgres(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export async function startPostgres(): Promise<PgInstance> {
  const why = postgresRigUnavailable();
  if (why) throw new Error(why);
  const dir = mkdtempSync('/tmp/pgtest.');
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
  const port = await freePort();
  const init = asPostgres([join(BIN, 'initdb'), '-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.out}`);
  appendFileSync(
    join(dir, 'data', 'postgresql.conf'),
    [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      "shared_preload_libraries = 'pg_stat_statements'",
      'pg_stat_statements.track = all',
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 100',
      '',
    ].join('\n'),
  );
  // Password authentication for roles other than postgres, so role tests are real.
  const hba = join(dir, 'data', 'pg_hba.conf');
  appendFileSync(hba, '');
  const hbaText = readFileSync(hba, 'utf8').replace(/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)trust$/m, '$1scram-sha-256');
  spawnSync('sh', ['-c', 'cat > "$1"', 'sh', hba], { input: `host all postgres 127.0.0.1/32 trust\n${hbaText}` });
  const start = asPostgres([join(BIN, 'pg_ctl'), '-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  if (start.status !== 0) throw new Error(`pg_ctl start failed: ${start.out}`);
  const clients: pg.Client[] = [];
  const url = (user = 'postgres', db = 'postgres', password?: string): string =>
    `postgres://${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  const client = async (user?: string, db?: string, password?: string): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: url(user, db, password) });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };
  const admin = new Map<string, pg.Client>();
  return {
    dir,
    port,
    url,
    client,
    psqlFile(file, vars, db = 'postgres') {
      const args = ['-X', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-f', file];
      for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
      const r = spawnSync('psql', args, { encoding: 'utf8', timeout: 60_000 });
      return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
    },
    async sql(text, values, db = 'postgres') {
      let c = admin.get(db);
      if (!c) admin.set(db, (c = await client('postgres', db)));
      return (await c.query(text, values as unknown[])).rows;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      asPostgres([join(BIN, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      const pidFile = join(dir, 'data', 'postmaster.pid');
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
