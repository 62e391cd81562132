import { z } from 'zod';
import { resolveUnitName } from '../../proto/catalogue/systemd-common.js';
import { sysStatus } from '../../proto/catalogue/sys-status.js';
import { KuError } from '../../proto/errors.js';
import { withBus } from '../systemd/deps.js';
import { implement } from './types.js';

export default implement({
  spec: sysStatus,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    const unit = resolveUnitName(params.unit);
    const status = await withBus(ctx.host.systemd.busAddress, (bus) => bus.status(unit));
    if (status.loadState === 'not-found') throw new KuError('KU_ERR_UNIT_NOT_FOUND', `no unit ${unit} on this host`, { unit });
    return status;
  },
});
