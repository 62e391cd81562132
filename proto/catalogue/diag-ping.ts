import { z } from 'zod';
import { defineOp } from '../op-spec.js';

/** `ku-diag ping`: the cheapest read: is the agent there, which version, how loaded. */
export const diagPing = defineOp({
  name: 'diag.ping',
  summary: 'liveness of an agent: version, uptime and load of its host',
  mutates: false,
  risk: 'none',
  timeoutMs: 5_000,
  params: z.object({}).strict(),
  result: z.object({
    hostname: z.string(),
    agentVersion: z.string(),
    uptimeSec: z.number(),
    load1: z.number().describe('1-minute load average'),
    time: z.string().describe('the host\'s clock, ISO 8601'),
  }),
  errors: [],
  cli: { bin: 'ku-diag', command: 'ping' },
});
