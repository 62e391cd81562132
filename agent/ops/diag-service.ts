import { z } from 'zod';
import { diagService } from '../../proto/catalogue/diag-service.js';
import { resolveUnitName } from '../../proto/catalogue/systemd-common.js';
import { existingUnit, withBus } from '../systemd/deps.js';
import { readJournal } from '../systemd/journal.js';
import { implement } from './types.js';

export default implement({
  spec: diagService,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    const unit = resolveUnitName(params.name);
    const status = await withBus(ctx.host.systemd.busAddress, (bus) => existingUnit(bus, unit));
    const { entries } = await readJournal(ctx.exec, {
      unit,
      priority: 3,
      limit: params.lines,
      maxBytes: 256 * 1024,
      ...(ctx.host.systemd.journalDirectory ? { directory: ctx.host.systemd.journalDirectory } : {}),
      timeoutMs: Math.max(1000, ctx.deadline - Date.now()),
      signal: ctx.signal,
    });
    return { status, errors: entries };
  },
});
