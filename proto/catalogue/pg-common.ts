/**
 * Shared pieces of the PostgreSQL specs. Identifiers are checked here, before
 * anything reaches a database: plain SQL identifiers (ASCII letters, digits,
 * `_`, `$`), case kept as given (mixed case works; ku quotes every identifier
 * it sends), at most 63 bytes each.
 */
import { z } from 'zod';

const IDENT = '[A-Za-z_][A-Za-z0-9_$]*';

export const pgIdent = z
  .string()
  .min(1, 'empty identifier')
  .max(63, 'PostgreSQL identifiers are at most 63 bytes')
  .regex(new RegExp(`^${IDENT}$`), 'identifiers may contain only ASCII letters, digits, "_" and "$", and not start with a digit (no quotes, spaces, ";" or comments)');

/** `table` or `schema.table`. */
export const pgTableName = z
  .string()
  .min(1)
  .max(127)
  .regex(new RegExp(`^(${IDENT}\\.)?${IDENT}$`), 'a table is NAME or SCHEMA.NAME of ASCII letters, digits, "_" and "$" (no quotes, spaces, ";" or comments)')
  .refine((s) => s.split('.').every((p) => Buffer.byteLength(p) <= 63), 'PostgreSQL identifiers are at most 63 bytes')
  .describe('table, as NAME or SCHEMA.NAME (case as in the catalog)');

/** Name of a database in the agent config. */
export const pgDb = z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'a database name from the agent config').describe('database, by its name in the agent config; optional when the agent has one');

/** One SQL statement (checked by PostgreSQL's parser, never executed as given). */
export const pgQuery = z.string().min(1).max(100_000).describe('one SQL statement; $1-style placeholders allowed (generic plan)');

export const pgQueryId = z.string().regex(/^-?\d{1,20}$/, 'a pg_stat_statements queryid').describe('pg_stat_statements queryid');

/** Summary of a plan. */
export const planSummary = z.object({
  totalCost: z.number().describe('planner total cost'),
  indexesUsed: z.array(z.string()).describe('indexes the plan reads'),
  seqScans: z.array(z.string()).describe('tables read by sequential scan'),
});
