import { z } from 'zod';
import { defineOp } from '../op-spec.js';
import { unitName, unitStatus } from './systemd-common.js';

/** `ku-sys service-status nginx` */
export const sysStatus = defineOp({
  name: 'sys.status',
  summary: 'status of a systemd unit, from systemd over D-Bus',
  mutates: false,
  risk: 'none',
  timeoutMs: 15_000,
  params: z.object({ unit: unitName }).strict(),
  result: unitStatus,
  errors: ['KU_ERR_UNIT_NOT_FOUND', 'KU_ERR_SYSTEMD_UNAVAILABLE', 'KU_ERR_SYSTEMD_DENIED'],
  cli: { bin: 'ku-sys', command: 'service-status', positional: ['unit'], aliases: ['status'] },
});
