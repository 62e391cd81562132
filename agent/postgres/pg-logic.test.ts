/** Logic of the pg helpers (the SQL paths run against real PostgreSQL in test/system). */
import { describe, expect, it } from 'vitest';
import { mentionedColumns, identifiers } from '../ops/pg-advise.js';
import { indexName, parseProvenance, pgError, quoteIdent, quoteLiteral, tableAllowed } from './db.js';
import { summarize, type PlanNode } from './plan.js';

describe('pg helpers', () => {
  it('names indexes deterministically within 63 bytes', () => {
    expect(indexName('orders', ['customer_id'])).toBe('ku_orders_customer_id_idx');
    expect(indexName('t', ['a'], true)).toBe('ku_t_a_key');
    const long = indexName('a'.repeat(60), ['b'.repeat(60), 'c']);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).toBe(indexName('a'.repeat(60), ['b'.repeat(60), 'c']));
    expect(long).not.toBe(indexName('a'.repeat(60), ['b'.repeat(60), 'd']));
  });

  it('quotes identifiers and literals', () => {
    expect(quoteIdent('Sales')).toBe('"Sales"');
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
  });

  it('matches table globs and reads provenance', () => {
    const db = { name: 'x', url: () => '', tables: ['public.*', 'Sales.Customers'], maxBuilds: 1 };
    expect(tableAllowed(db, 'public', 'orders')).toBe(true);
    expect(tableAllowed(db, 'Sales', 'Customers')).toBe(true);
    expect(tableAllowed(db, 'Sales', 'Orders')).toBe(false);
    expect(parseProvenance('{"by":"ku","baselineCost":5}')).toMatchObject({ baselineCost: 5 });
    expect(parseProvenance('made by hand')).toBeNull();
  });

  it('maps SQLSTATEs to ku codes', () => {
    expect(pgError({ code: '55P03', message: 'lock' }, 'x').code).toBe('KU_ERR_PG_LOCK_TIMEOUT');
    expect(pgError({ code: '23505', message: 'dup' }, 'x').code).toBe('KU_ERR_PG_DUPLICATE_KEYS');
    expect(pgError({ code: '42601', message: 'syntax' }, 'x').code).toBe('KU_ERR_PG_QUERY_INVALID');
    expect(pgError({ message: 'connect ECONNREFUSED' }, 'x').code).toBe('KU_ERR_PG_UNAVAILABLE');
    expect(pgError({ code: 'XX000', message: '?' }, 'x').code).toBe('KU_ERR_PG_FAILED');
  });

  it('finds the columns a plan filters, joins and sorts on', () => {
    expect(identifiers(`((o.status = 'a b'::text) AND ("MixedCase" > $1))`)).toEqual(['o', 'status', 'text', 'AND', 'MixedCase']);
    const plan: PlanNode = {
      'Node Type': 'Sort',
      'Total Cost': 100,
      'Sort Key': ['o.created_at'],
      Plans: [
        {
          'Node Type': 'Hash Join',
          'Total Cost': 90,
          'Hash Cond': '(o.customer_id = c.id)',
          Plans: [
            { 'Node Type': 'Seq Scan', 'Relation Name': 'orders', Schema: 'public', Alias: 'o', 'Total Cost': 50, Filter: '(o.status = $1)' },
            { 'Node Type': 'Index Scan', 'Relation Name': 'customers', Schema: 'public', 'Index Name': 'customers_pkey', 'Total Cost': 10 },
          ],
        },
      ],
    };
    const m = mentionedColumns(plan);
    expect(m.get('public.orders')).toEqual(expect.arrayContaining(['status', 'customer_id', 'created_at']));
    expect(m.get('public.orders')![0]).toBe('o');
    expect(summarize(plan)).toEqual({ totalCost: 100, indexesUsed: ['customers_pkey'], seqScans: ['public.orders'] });
  });
});
