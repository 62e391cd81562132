/** pg.drop-index: DROP INDEX CONCURRENTLY, only of indexes ku made, never one behind a constraint. */
import { z } from 'zod';
import { pgDropIndex } from '../../proto/catalogue/pg-ops.js';
import { KuError } from '../../proto/errors.js';
import { findIndex, parseProvenance, pgError, pickDb, withDb } from '../postgres/db.js';
import { implement } from './types.js';

export default implement({
  spec: pgDropIndex,
  limits: z
    .object({
      allowForeign: z.boolean().default(false).describe('also drop indexes ku did not make'),
      lockTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
    })
    .strict(),
  async run(params, ctx) {
    const db = pickDb(ctx.host, params.db);
    return withDb(db, 'drop-index', async (c) => {
      const idx = await findIndex(c, db, params.index);
      if (idx.constraint) throw new KuError('KU_ERR_PG_INDEX_BACKS_CONSTRAINT', `${idx.nspname}.${idx.relname} backs constraint ${idx.constraint}`);
      if (!parseProvenance(idx.comment) && !ctx.limits.allowForeign) throw new KuError('KU_ERR_PG_INDEX_NOT_OURS', `${idx.nspname}.${idx.relname} was not made by ku`);
      const ddl = `DROP INDEX CONCURRENTLY ${idx.sql}`;
      if (params.dryRun) return { db: db.name, index: `${idx.nspname}.${idx.relname}`, table: idx.table, dropped: false, ddl };
      try {
        await c.query(`SET lock_timeout = ${ctx.limits.lockTimeoutMs}`);
        await c.query(ddl);
      } catch (e) {
        throw pgError(e, `dropping ${idx.relname}`);
      }
      return { db: db.name, index: `${idx.nspname}.${idx.relname}`, table: idx.table, dropped: true, ddl };
    });
  },
});
