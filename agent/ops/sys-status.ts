import { z } from 'zod';
import { resolveUnitName } from '../../proto/catalogue/systemd-common.js';
import { sysStatus } from '../../proto/catalogue/sys-status.js';
import { existingUnit, withBus } from '../systemd/deps.js';
import { implement } from './types.js';

export default implement({
  spec: sysStatus,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    const unit = resolveUnitName(params.unit);
    return withBus(ctx.host.systemd.busAddress, (bus) => existingUnit(bus, unit));
  },
});
