/**
 * ku-pg against a real PostgreSQL 15 with pg_stat_statements and hypopg,
 * driven through the ku-pg CLI, the hub and an agent over mTLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { join } from 'node:path';
import { cleanup, cli, control, identityCreds, principal, results, ROOT, run, runReq, startAgent, startHub, waitFor, type HubCtx } from '../helpers/rig.js';
import { dropLeftover } from '../../agent/ops/pg-apply-index.js';
import { requirePostgresRig, startPostgres, type PgInstance } from '../rig/postgres.js';

const enabled = requirePostgresRig();

let db: PgInstance;
let h: HubCtx;
let env: Record<string, string>;
const AGENT = 'pg-host';

const PG_OPS = {
  'pg.top-queries': {},
  'pg.explain': {},
  'pg.advise': { minCost: 1000, minSavingPct: 30 },
  'pg.apply-index': { lockTimeoutMs: 1000, allowUnique: true, cleanupTimeoutMs: 30_000 },
  'pg.verify-index': { minSavingPct: 30 },
  'pg.drop-index': {},
  'pg.builds': {},
};

/** Run ku-pg with the test's identity; parse the JSON result line. */
async function kupg(...args: string[]): Promise<{ code: number; out: Record<string, any>; events: Record<string, any>[]; stderr: string }> {
  const r = await cli('ku-pg', [...args, '--json'], env);
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { code: r.code, out: lines.find((l) => l.ok !== undefined) ?? {}, events: lines.filter((l) => l.event), stderr: r.stderr };
}

const indexes = async (table: string) =>
  (await db.sql<{ name: string; valid: boolean }>(`SELECT indexrelid::regclass::text AS name, indisvalid AS valid FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`, [table], 'app'));

beforeAll(async () => {
  if (!enabled) return;
  db = await startPostgres();
  await db.sql('CREATE DATABASE app');
  for (const s of [
    "CREATE ROLE app_owner NOLOGIN",
    "CREATE ROLE app_user LOGIN PASSWORD 'app-pw' IN ROLE app_owner",
    "CREATE ROLE other_owner NOLOGIN",
  ]) await db.sql(s);
  // The agent's role, exactly as deploy/postgres says.
  const role = db.psqlFile(join(ROOT, 'deploy/postgres/ku-agent-role.sql'), { owner: 'app_owner', password: 'agent-pw' }, 'app');
  expect(role.code, role.out).toBe(0);
  for (const s of [
    'ALTER SCHEMA public OWNER TO app_owner',
    'SET ROLE app_owner',
    'CREATE TABLE orders AS SELECT g AS id, g % 50000 AS customer_id, md5(g::text) AS note FROM generate_series(1, 1000000) g',
    'ALTER TABLE orders ADD PRIMARY KEY (id)',
    'CREATE TABLE events AS SELECT g AS id, g % 2 AS tenant, (g / 2) % 1000 AS kind, now() AS at FROM generate_series(1, 400000) g',
    'CREATE TABLE dupes AS SELECT g % 10 AS v FROM generate_series(1, 1000) g',
    'RESET ROLE',
    'CREATE TABLE secret_stuff (id int)',
    'ALTER TABLE secret_stuff OWNER TO other_owner',
    'CREATE SCHEMA "Sales"',
    'ALTER SCHEMA "Sales" OWNER TO app_owner',
    'SET ROLE app_owner',
    'CREATE TABLE "Sales"."Customers" ("Id" int PRIMARY KEY, "Email" text)',
    'INSERT INTO "Sales"."Customers" SELECT g, \'u\' || g || \'@x\' FROM generate_series(1, 20000) g',
    'RESET ROLE',
    'ANALYZE',
  ]) await db.sql(s, [], 'app');
  h = await startHub();
  await startAgent(h, {
    name: AGENT,
    ops: PG_OPS,
    extra: { postgres: { databases: { app: { urlEnv: 'KU_PG_APP', tables: ['public.orders', 'public.events', 'public.dupes', 'Sales.*'], maxBuilds: 1 } } } },
    env: { KU_PG_APP: db.url('ku_agent', 'app', 'agent-pw') },
  });
  env = { KU_HUB: h.addr, KU_IDENTITY: await principal(h, 'admin', 'dba-bot') };
}, 120_000);

afterAll(async () => {
  await cleanup();
  if (db) await db.stop();
});

describe.runIf(enabled)('the auto-indexing loop through ku-pg', () => {
  it('top-queries → explain → advise → apply-index → verify-index says SHIP', async () => {
    const app = await db.client('app_user', 'app', 'app-pw');
    await db.sql('SELECT pg_stat_statements_reset()', [], 'app');
    for (let i = 0; i < 3; i++) await app.query('SELECT * FROM orders WHERE customer_id = $1', [42 + i]);

    const top = await kupg('top-queries', '--limit', '5');
    expect(top.code).toBe(0);
    const slow = top.out.data.queries.find((q: { query: string }) => q.query.includes('FROM orders WHERE customer_id'));
    expect(slow).toBeDefined();
    expect(slow.calls).toBe(3);
    expect(slow.query).toContain('$1');

    const ex = await kupg('explain', '--queryid', slow.queryid);
    expect(ex.code).toBe(0);
    expect(ex.out.data.summary.seqScans).toEqual(['public.orders']);
    expect(ex.out.data.summary.indexesUsed).toEqual([]);

    const adv = await kupg('advise', '--top', '5');
    expect(adv.code, JSON.stringify(adv.out)).toBe(0);
    const rec = adv.out.data.recommendations.find((r: { table: string }) => r.table === 'public.orders');
    if (!rec) console.log(JSON.stringify(adv.out, null, 1));
    expect(rec).toMatchObject({ table: 'public.orders', columns: ['customer_id'] });
    expect(rec.savingsPct).toBeGreaterThan(90);
    expect(rec.queries).toContain(slow.query);
    expect((await indexes('orders')).map((i) => i.name)).toEqual(['orders_pkey']); // advise created nothing

    const ap = await kupg('apply-index', '--table', 'orders', '--column', 'customer_id', '--queryid', slow.queryid);
    expect(ap.code, ap.stderr).toBe(0);
    expect(ap.out.data).toMatchObject({ table: 'public.orders', index: 'ku_orders_customer_id_idx', status: 'created' });
    expect(ap.out.data.ddl).toBe('CREATE INDEX CONCURRENTLY "ku_orders_customer_id_idx" ON "public"."orders" USING btree ("customer_id")');
    expect(ap.out.data.baselineCost).toBeCloseTo(ex.out.data.summary.totalCost, 1);
    const comment = (await db.sql<{ c: string }>("SELECT obj_description('ku_orders_customer_id_idx'::regclass, 'pg_class') AS c", [], 'app'))[0]!.c;
    expect(JSON.parse(comment)).toMatchObject({ by: 'ku', principal: 'dba-bot', auditId: ap.out.auditId, baselineCost: ap.out.data.baselineCost });

    const v = await kupg('verify-index', '--index', 'ku_orders_customer_id_idx', '--queryid', slow.queryid);
    expect(v.code).toBe(0);
    expect(v.out.data.verdict).toBe('SHIP');
    expect(v.out.data.checks).toMatchObject({ valid: true, ready: true, used: true, runningBuilds: 0, invalidIndexes: [], idleInTransaction: 0 });
    expect(v.out.data.checks.savingsPct).toBeGreaterThan(90);

    const again = await kupg('apply-index', '--table', 'public.orders', '--column', 'customer_id');
    expect(again.out.data).toMatchObject({ status: 'exists', existing: 'ku_orders_customer_id_idx' });
  });

  it('REVISE path: the single-column index does not help, drop it, the two-column index ships', async () => {
    const q = 'SELECT * FROM events WHERE tenant = $1 AND kind = $2';
    const one = await kupg('apply-index', '--table', 'events', '--column', 'tenant', '--query', q);
    expect(one.code).toBe(0);
    const v1 = await kupg('verify-index', '--index', one.out.data.index, '--query', q);
    expect(v1.out.data.verdict).toBe('REVISE');
    expect(v1.out.data.checks.used).toBe(false);
    expect(v1.out.data.reasons.join(' ')).toMatch(/does not use/);
    const drop = await kupg('drop-index', '--index', one.out.data.index);
    expect(drop.code).toBe(0);
    expect(drop.out.data).toMatchObject({ dropped: true, ddl: `DROP INDEX CONCURRENTLY "public"."${one.out.data.index}"` });
    const two = await kupg('apply-index', '--table', 'events', '--column', 'tenant', '--column', 'kind', '--query', q);
    expect(two.code).toBe(0);
    const v2 = await kupg('verify-index', '--index', two.out.data.index, '--query', q);
    expect(v2.out.data.verdict).toBe('SHIP');
    expect((await indexes('events')).map((i) => i.name)).toEqual(['ku_events_tenant_kind_idx']);
  });

  it('mixed-case schemas, tables and columns work with correct quoting', async () => {
    const r = await kupg('apply-index', '--table', 'Sales.Customers', '--column', 'Email');
    expect(r.code, r.stderr).toBe(0);
    expect(r.out.data.ddl).toBe('CREATE INDEX CONCURRENTLY "ku_Customers_Email_idx" ON "Sales"."Customers" USING btree ("Email")');
    expect((await indexes('"Sales"."Customers"')).map((i) => i.name)).toContain('"Sales"."ku_Customers_Email_idx"');
  });
});

describe.runIf(enabled)('tables outside the search path', () => {
  it('explain names the real schema of a scanned table, and advise finds the table there', async () => {
    await db.sql('SET ROLE app_owner; CREATE TABLE "Sales"."Orders" AS SELECT g AS "Id", g % 1000 AS "CustomerId" FROM generate_series(1, 200000) g; RESET ROLE', [], 'app');
    await db.sql('ANALYZE "Sales"."Orders"', [], 'app');
    const q = 'SELECT * FROM "Sales"."Orders" WHERE "CustomerId" = $1';
    const ex = await kupg('explain', '--query', q);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.out.data.summary.seqScans).toEqual(['Sales.Orders']);
    const adv = await kupg('advise', '--query', q);
    expect(adv.code, ex.stderr).toBe(0);
    expect(adv.out.data.recommendations).toMatchObject([{ table: 'Sales.Orders', columns: ['CustomerId'] }]);
  });
});

describe.runIf(enabled)('builds do not block writers, and failures leave nothing behind', () => {
  it('a concurrent writer keeps committing throughout the build, and progress streams', async () => {
    const writer = await db.client('app_user', 'app', 'app-pw');
    let commits = 0;
    let building = true;
    const commitTimes: number[] = [];
    const loop = (async () => {
      while (building) {
        await writer.query('UPDATE orders SET note = md5(random()::text) WHERE id = $1', [1 + Math.floor(Math.random() * 1_000_000)]);
        commits++;
        commitTimes.push(Date.now());
      }
    })();
    const t0 = Date.now();
    const r = await kupg('apply-index', '--table', 'orders', '--column', 'note');
    const t1 = Date.now();
    building = false;
    await loop;
    expect(r.code, r.stderr).toBe(0);
    expect(r.out.data.status).toBe('created');
    const during = commitTimes.filter((t) => t > t0 && t < t1);
    // A blocking CREATE INDEX would hold every writer for the whole build; here they kept committing.
    expect(during.length).toBeGreaterThan(20);
    expect(r.events.some((e) => e.event === 'progress' && e.data.index === 'ku_orders_note_idx')).toBe(true);
  });

  it('lock_timeout: typed retryable error and no INVALID index remains', async () => {
    // An open writing transaction that ends by itself after a few seconds (as RIG.md does it).
    const blocker: pg.Client = await db.client('app_user', 'app', 'app-pw');
    await blocker.query('BEGIN');
    await blocker.query('UPDATE events SET at = now() WHERE id = 1');
    const holding = blocker.query('SELECT pg_sleep(4)').then(() => blocker.query('COMMIT'));
    // The build commits its catalog row, then waits for the open transaction: lock_timeout (1 s) fires,
    // and the INVALID index it left is dropped once the blocker is gone.
    const r = await kupg('apply-index', '--table', 'events', '--column', 'at');
    await holding;
    expect(r.code).toBe(1);
    expect(r.out.error.code).toBe('KU_ERR_PG_LOCK_TIMEOUT');
    expect(r.out.error.retryable).toBe(true);
    expect(r.out.error.details.leftoverDropped).toBe(true);
    expect((await indexes('events')).every((i) => i.valid)).toBe(true);
    expect((await indexes('events')).map((i) => i.name)).not.toContain('ku_events_at_idx');
  });

  it('unique build on duplicate data: typed error, nothing left', async () => {
    const r = await kupg('apply-index', '--table', 'dupes', '--column', 'v', '--unique');
    expect(r.code).toBe(1);
    expect(r.out.error.code).toBe('KU_ERR_PG_DUPLICATE_KEYS');
    expect(r.out.error.details.leftoverDropped).toBe(true);
    expect(await indexes('dupes')).toEqual([]);
  });

  it('a cancelled call cancels the build and leaves no INVALID index', async () => {
    const c = control(h, identityCreds(env.KU_IDENTITY!));
    const live = run(c, runReq('pg.apply-index', { table: 'orders', column: ['note', 'customer_id'] }, { hosts: [AGENT] }));
    await waitFor(async () => (await db.sql("SELECT 1 FROM pg_stat_progress_create_index", [], 'app')).length > 0, 'the build to start', 20_000);
    live.call.cancel();
    const r = await live.done;
    expect(r.error?.code).toBe('KU_ERR_CANCELLED');
    // The agent is done when its apply-index sessions are gone (it closes them after cleaning up).
    await waitFor(async () => (await db.sql("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'ku-agent apply-index%'", [], 'app')).length === 0, 'the agent to finish the cancelled build', 30_000);
    expect((await db.sql("SELECT 1 FROM pg_class WHERE relname = 'ku_orders_note_customer_id_idx'", [], 'app')).length).toBe(0);
    expect((await indexes('orders')).every((i) => i.valid)).toBe(true);
  });

  it('one build per table and a per-database limit, across agents (advisory locks)', async () => {
    const holder = await db.client('postgres', 'app');
    const oid = (await holder.query("SELECT 'public.events'::regclass::oid::int AS oid")).rows[0].oid;
    await holder.query('SELECT pg_advisory_lock($1, $2)', [0x6b750001, oid]);
    const busy = await kupg('apply-index', '--table', 'events', '--column', 'kind');
    expect(busy.out.error.code).toBe('KU_ERR_PG_BUILD_IN_PROGRESS');
    expect(busy.out.error.retryable).toBe(true);
    await holder.query('SELECT pg_advisory_unlock_all()');
    await holder.query('SELECT pg_advisory_lock($1, 0)', [0x6b750002]);
    const full = await kupg('apply-index', '--table', 'events', '--column', 'kind');
    expect(full.out.error.code).toBe('KU_ERR_PG_BUILD_LIMIT');
    await holder.query('SELECT pg_advisory_unlock_all()');
    const dry = await kupg('apply-index', '--table', 'events', '--column', 'kind', '--dry-run');
    expect(dry.out.data).toMatchObject({ status: 'dry-run', index: 'ku_events_kind_idx' });
    expect((await indexes('events')).map((i) => i.name)).not.toContain('ku_events_kind_idx');
  });

  it('a crash-like INVALID leftover of the same name is dropped and rebuilt', async () => {
    // A leftover exactly as a crashed build leaves it: same name, INVALID.
    await db.sql('SET ROLE app_owner; CREATE INDEX ku_dupes_v_idx ON dupes (v); RESET ROLE', [], 'app');
    await db.sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ku_dupes_v_idx'::regclass", [], 'app');
    expect(await indexes('dupes')).toEqual([{ name: 'ku_dupes_v_idx', valid: false }]);
    const r = await kupg('apply-index', '--table', 'dupes', '--column', 'v');
    expect(r.code, r.stderr).toBe(0);
    expect(r.out.data.status).toBe('rebuilt');
    expect(await indexes('dupes')).toEqual([{ name: 'ku_dupes_v_idx', valid: true }]);
  });

  it('the cleanup after a failed build drops an INVALID index of its name, never a valid one', async () => {
    // A build that loses a race (another finished the same index between its checks and its
    // CREATE) fails on the name; what is there then is a valid index, and it must stay.
    await db.sql('CREATE INDEX IF NOT EXISTS ku_dupes_v_idx ON dupes (v)', [], 'app');
    const c = await db.client('postgres', 'app');
    expect(await dropLeftover(c, '"public"."ku_dupes_v_idx"', Date.now() + 5000)).toBe(true);
    expect(await indexes('dupes')).toEqual([{ name: 'ku_dupes_v_idx', valid: true }]);
    await db.sql("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ku_dupes_v_idx'::regclass", [], 'app');
    expect(await dropLeftover(c, '"public"."ku_dupes_v_idx"', Date.now() + 5000)).toBe(true);
    expect(await indexes('dupes')).toEqual([]);
  });
});

describe.runIf(enabled)('refused with clear codes and no DDL sent', () => {
  it('identifiers carrying SQL, unknown names, tables outside the allowlist, system catalogs, long names', async () => {
    const before = await db.sql<{ n: number }>('SELECT count(*)::int AS n FROM pg_class WHERE relkind = \'i\'', [], 'app');
    const cases: [string[], number, string][] = [
      [['--table', 'users; DROP TABLE orders', '--column', 'id'], 2, 'KU_ERR_INVALID_PARAMS'],
      [['--table', 'orders', '--column', 'id"); DROP TABLE orders; --'], 2, 'KU_ERR_INVALID_PARAMS'],
      [['--table', "orders'", '--column', 'id'], 2, 'KU_ERR_INVALID_PARAMS'],
      [['--table', 'orders/**/', '--column', 'id'], 2, 'KU_ERR_INVALID_PARAMS'],
      [['--table', 'x'.repeat(64), '--column', 'id'], 2, 'KU_ERR_INVALID_PARAMS'],
      [['--table', 'nosuch', '--column', 'id'], 1, 'KU_ERR_PG_TABLE_NOT_FOUND'],
      [['--table', 'orders', '--column', 'nosuch'], 1, 'KU_ERR_PG_COLUMN_NOT_FOUND'],
      [['--table', 'secret_stuff', '--column', 'id'], 3, 'KU_ERR_PG_TABLE_NOT_ALLOWED'],
      [['--table', 'pg_catalog.pg_class', '--column', 'relname'], 3, 'KU_ERR_PG_TABLE_NOT_ALLOWED'],
      [['--table', 'orders', '--column', 'id', '--db', 'other'], 3, 'KU_ERR_PG_DB_NOT_ALLOWED'],
    ];
    for (const [args, code, err] of cases) {
      const r = await kupg('apply-index', ...args);
      expect(r.out.error?.code, args.join(' ')).toBe(err);
      expect(r.code, args.join(' ')).toBe(code);
    }
    const after = await db.sql<{ n: number }>('SELECT count(*)::int AS n FROM pg_class WHERE relkind = \'i\'', [], 'app');
    expect(after[0]!.n).toBe(before[0]!.n);
    expect((await db.sql('SELECT count(*)::int AS n FROM orders', [], 'app'))[0]).toEqual({ n: 1_000_000 });
  });

  it('drop-index refuses indexes ku did not make and those behind constraints', async () => {
    const pk = await kupg('drop-index', '--index', 'orders_pkey');
    expect(pk.out.error.code).toBe('KU_ERR_PG_INDEX_BACKS_CONSTRAINT');
    await db.sql('CREATE INDEX manual_idx ON events (kind)', [], 'app');
    await db.sql('ALTER INDEX manual_idx OWNER TO app_owner', [], 'app').catch(() => undefined);
    const manual = await kupg('drop-index', '--index', 'manual_idx');
    expect(manual.out.error.code).toBe('KU_ERR_PG_INDEX_NOT_OURS');
    expect((await indexes('events')).map((i) => i.name)).toContain('manual_idx');
    expect((await indexes('orders')).map((i) => i.name)).toContain('orders_pkey');
  });

  it('explain refuses two statements and EXPLAIN ANALYZE, and runs nothing', async () => {
    for (const q of ['SELECT 1; DROP TABLE orders', 'EXPLAIN ANALYZE SELECT * FROM orders', 'DROP TABLE orders', 'SELECT 1; SELECT 2']) {
      const r = await kupg('explain', '--query', q);
      expect(r.out.error?.code, q).toBe('KU_ERR_PG_QUERY_INVALID');
      expect(r.code).toBe(2);
    }
    const del = await kupg('explain', '--query', 'DELETE FROM orders WHERE id < 10');
    expect(del.code).toBe(0); // explained, not executed
    expect((await db.sql('SELECT count(*)::int AS n FROM orders', [], 'app'))[0]).toEqual({ n: 1_000_000 });
  });
});

describe.runIf(enabled)('ku dev --pg', () => {
  it('adds the database to the local agent so every ku-pg command works at once', async () => {
    const { spawn } = await import('node:child_process');
    const state = join(await import('node:os').then((o) => o.tmpdir()), `ku-dev-pg-${process.pid}`);
    const dev = spawn(process.execPath, [join(ROOT, 'dist/cli/ku.js'), 'dev', '--state', state, '--pg', `app=${db.url('ku_agent', 'app', 'agent-pw')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dev.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    dev.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => /export KU_IDENTITY=/.test(out), () => `ku dev to start: ${out}`, 30_000);
      const devEnv = Object.fromEntries([...out.matchAll(/^export (KU_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      const b = await cli('ku-pg', ['builds', '--json'], devEnv);
      expect(b.code).toBe(0);
      // A newcomer's agent often connects as the application's own role: the workload of that
      // role is still listed, and ku's own statements (catalog reads, EXPLAIN, DDL) are not.
      const same = await db.client('ku_agent', 'app', 'agent-pw');
      await same.query('SELECT count(*) FROM dupes WHERE v = $1', [3]);
      const top = await cli('ku-pg', ['top-queries', '--limit', '100', '--json'], devEnv);
      expect(top.code, top.stdout).toBe(0);
      const data = JSON.parse(top.stdout).data as { db: string; queries: { query: string }[] };
      expect(data.db).toBe('app');
      expect(data.queries.map((q) => q.query)).toContain('SELECT count(*) FROM dupes WHERE v = $1');
      // ku's statements: this very read, advise's hypothetical indexes, the build progress polls.
      expect(data.queries.filter((q) => /^\/\* ku \*\/|total_exec_time AS total|hypopg_create_index|blocks_done::float8 AS bd/.test(q.query))).toEqual([]);
      expect(out).not.toContain('agent-pw'); // the secret is not echoed
    } finally {
      dev.kill('SIGINT');
      await new Promise((r) => dev.once('exit', r));
      (await import('node:fs')).rmSync(state, { recursive: true, force: true });
    }
  });
});

describe.runIf(enabled)('the roles in deploy/postgres do what they say', () => {
  it('mcp-readonly reads tables and statistics, and cannot write or run DDL', async () => {
    const r = db.psqlFile(join(ROOT, 'deploy/postgres/mcp-readonly-role.sql'), { db: 'app', schema: 'public', owner: 'app_owner', password: 'ro-pw' }, 'app');
    expect(r.code, r.out).toBe(0);
    const ro = await db.client('mcp_readonly', 'app', 'ro-pw');
    expect((await ro.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(400_000);
    expect((await ro.query('SELECT count(*)::int AS n FROM pg_stat_statements')).rows[0].n).toBeGreaterThan(0);
    for (const stmt of ["INSERT INTO events (id) VALUES (-1)", 'CREATE TABLE t (x int)', 'CREATE INDEX ON events (at)', 'DROP TABLE dupes', 'UPDATE orders SET note = null WHERE id = 1']) {
      await expect(ro.query(stmt), stmt).rejects.toThrow(/read-only transaction|permission denied|must be owner/);
    }
    await ro.query('SET default_transaction_read_only = off');
    await expect(ro.query("INSERT INTO events (id) VALUES (-1)")).rejects.toThrow(/permission denied/);
  });

  it('the agent role builds indexes on the owner\'s tables and nowhere else', async () => {
    const agent = await db.client('ku_agent', 'app', 'agent-pw');
    await agent.query('CREATE INDEX CONCURRENTLY role_probe_idx ON dupes (v)');
    await agent.query('DROP INDEX CONCURRENTLY role_probe_idx');
    await expect(agent.query('CREATE INDEX CONCURRENTLY nope_idx ON secret_stuff (id)')).rejects.toThrow(/must be owner/);
    await expect(agent.query('CREATE ROLE x')).rejects.toThrow(/permission denied/);
    await expect(agent.query('CREATE DATABASE x')).rejects.toThrow(/permission denied/);
    expect((await agent.query('SELECT count(*)::int AS n FROM pg_stat_statements')).rows[0].n).toBeGreaterThan(0);
  });
});
