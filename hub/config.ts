import { z } from 'zod';
import { parseDuration } from '../runtime/duration.js';

const duration = z.string().refine((s) => {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}, 'a duration such as 30s, 12h or 7d');

/** `hub.json` in the hub's state directory. */
export const HubConfigSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i).default('hub').describe('the hub\'s own identity name'),
    listen: z.string().regex(/^[^\s:]+:\d{1,5}$/).default('127.0.0.1:7443').describe('HOST:PORT to listen on'),
    agentCertTtl: duration.default('24h').describe('lifetime of agent certificates; agents renew at two thirds'),
    principalCertTtl: duration.default('12h').describe('default lifetime of principal certificates'),
    maxTokenTtl: duration.default('7d').describe('longest lifetime a join token may have'),
    heartbeatIntervalMs: z.number().int().min(200).max(300_000).default(10_000).describe('how often agents send heartbeats'),
    maxRunTimeoutMs: z.number().int().min(1000).default(3_600_000).describe('upper bound of a Run deadline'),
    auditFsync: z.boolean().default(false).describe('fsync the audit log after every record'),
  })
  .strict();

export type HubConfig = z.output<typeof HubConfigSchema>;

/** Format zod issues as `path: message` lines, all at once. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}
