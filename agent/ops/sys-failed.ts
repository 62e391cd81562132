import { z } from 'zod';
import { sysFailed } from '../../proto/catalogue/sys-failed.js';
import { withBus } from '../systemd/deps.js';
import { readJournal } from '../systemd/journal.js';
import { implement } from './types.js';

export default implement({
  spec: sysFailed,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    return withBus(ctx.host.systemd.busAddress, async (bus) => {
      const failed = await bus.listFailed();
      const units = [];
      for (const f of failed.slice(0, 200)) {
        const st = await bus.status(f.unit);
        const lastLines =
          params.lines === 0
            ? []
            : (
                await readJournal(ctx.exec, {
                  unit: f.unit,
                  limit: params.lines,
                  maxBytes: 64 * 1024,
                  ...(ctx.host.systemd.journalDirectory ? { directory: ctx.host.systemd.journalDirectory } : {}),
                  timeoutMs: 10_000,
                  signal: ctx.signal,
                })
              ).entries;
        units.push({ unit: f.unit, description: f.description, activeState: f.activeState, subState: f.subState, result: st.result, since: st.since, lastLines });
      }
      return { units };
    });
  },
});
