/**
 * ku-pg figures: apply-index through CLI-equivalent Run (hub + agent over mTLS) against a plain
 * CREATE INDEX CONCURRENTLY on the same table in the same run, and advise time per query.
 * Prints a table and writes bench/results/pg.json. Measures; asserts nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, it } from 'vitest';
import { cleanup, control, identityCreds, principal, results, ROOT, run, runReq, startAgent, startHub } from '../test/helpers/rig.js';
import { startPostgres, type PgInstance } from '../test/rig/postgres.js';

let db: PgInstance | undefined;
afterAll(async () => {
  await cleanup();
  await db?.stop();
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

it('pg: apply-index vs plain CREATE INDEX CONCURRENTLY, advise per query', async () => {
  const ROWS = Number(process.env.KU_BENCH_ROWS ?? 1_000_000);
  const ROUNDS = Number(process.env.KU_BENCH_ROUNDS ?? 3);
  db = await startPostgres();
  await db.sql('CREATE DATABASE app');
  for (const s of [
    'CREATE EXTENSION pg_stat_statements',
    'CREATE EXTENSION hypopg',
    `CREATE TABLE orders AS SELECT g AS id, g % 50000 AS customer_id, g % 97 AS status, md5(g::text) AS note FROM generate_series(1, ${ROWS}) g`,
    'ANALYZE orders',
  ]) await db.sql(s, [], 'app');
  const h = await startHub();
  await startAgent(h, {
    name: 'bench-pg',
    ops: { 'pg.apply-index': { lockTimeoutMs: 5000 }, 'pg.drop-index': {}, 'pg.advise': { minCost: 0, minSavingPct: 0 } },
    extra: { postgres: { databases: { app: { urlEnv: 'URL', tables: ['public.*'] } } } },
    env: { URL: db.url('postgres', 'app') },
  });
  const c = control(h, identityCreds(await principal(h)));
  const plain: number[] = [];
  const ku: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let t = process.hrtime.bigint();
    await db.sql('CREATE INDEX CONCURRENTLY plain_idx ON orders (customer_id)', [], 'app');
    plain.push(Number(process.hrtime.bigint() - t) / 1e6);
    await db.sql('DROP INDEX plain_idx', [], 'app');
    t = process.hrtime.bigint();
    const r = await run(c, runReq('pg.apply-index', { table: 'orders', column: ['customer_id'] }, { hosts: ['bench-pg'] })).done;
    ku.push(Number(process.hrtime.bigint() - t) / 1e6);
    const res = results(r.events)[0]!;
    if (!res.ok) throw new Error(JSON.stringify(res.error));
    await run(c, runReq('pg.drop-index', { index: 'ku_orders_customer_id_idx' }, { hosts: ['bench-pg'] })).done;
  }
  const queries = [
    'SELECT * FROM orders WHERE customer_id = $1',
    'SELECT * FROM orders WHERE status = $1 AND customer_id = $2',
    'SELECT id FROM orders WHERE note = $1',
    'SELECT count(*) FROM orders WHERE status = $1',
    'SELECT * FROM orders WHERE customer_id = $1 ORDER BY id',
  ];
  const advMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = process.hrtime.bigint();
    const r = await run(c, runReq('pg.advise', { query: queries }, { hosts: ['bench-pg'] })).done;
    advMs.push(Number(process.hrtime.bigint() - t) / 1e6 / queries.length);
    if (!results(r.events)[0]?.ok) throw new Error('advise failed');
  }
  const figures = {
    rows: ROWS,
    rounds: ROUNDS,
    plainCreateIndexConcurrentlyMs: Math.round(median(plain)),
    kuApplyIndexMs: Math.round(median(ku)),
    ratio: Math.round((median(ku) / median(plain)) * 100) / 100,
    advisePerQueryMs: Math.round(median(advMs) * 10) / 10,
    at: new Date().toISOString(),
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/pg.json'), `${JSON.stringify(figures, null, 2)}\n`);
  const table = [
    `ku-pg on ${ROWS.toLocaleString('en')} rows, median of ${ROUNDS}:`,
    `  plain CREATE INDEX CONCURRENTLY   ${figures.plainCreateIndexConcurrentlyMs} ms`,
    `  ku-pg apply-index (hub + agent)   ${figures.kuApplyIndexMs} ms   ratio ${figures.ratio}`,
    `  ku-pg advise, per query           ${figures.advisePerQueryMs} ms`,
  ].join('\n');
  writeFileSync(join(ROOT, 'bench/results/pg.md'), `${table}\n`);
  process.stdout.write(`\n${table}\n\n`);
});
