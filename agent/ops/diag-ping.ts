import os from 'node:os';
import { z } from 'zod';
import { diagPing } from '../../proto/catalogue/diag-ping.js';
import { KU_VERSION } from '../../runtime/version.js';
import { implement } from './types.js';

export default implement({
  spec: diagPing,
  limits: z.object({}).strict(),
  async run() {
    return { hostname: os.hostname(), agentVersion: KU_VERSION, uptimeSec: Math.round(os.uptime()), load1: Math.round(os.loadavg()[0]! * 100) / 100, time: new Date().toISOString() };
  },
});
