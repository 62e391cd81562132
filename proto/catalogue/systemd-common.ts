/**
 * Shared pieces of the systemd and journal specs: unit names (validated
 * before anything reaches D-Bus or journalctl), journal priorities and times.
 */
import { z } from 'zod';

/** Unit types systemd knows; a name without one of these suffixes means `.service`. */
export const UNIT_SUFFIXES = ['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope'] as const;

/** Letters, digits and `:_.@-`, plus systemd's `\xNN` escapes; nothing else (no `/`, spaces, shell or unicode tricks). */
const UNIT_CHARS = /^(?:[A-Za-z0-9:_.@-]|\\x[0-9a-fA-F]{2})+$/;

/** A unit name as callers may write it (`nginx`, `nginx.service`, `getty@tty1`). */
export const unitName = z
  .string()
  .min(1, 'unit name is empty')
  .max(247, 'unit name longer than systemd allows')
  .regex(UNIT_CHARS, 'unit names may contain only letters, digits, ":", "_", ".", "@", "-" and \\xNN escapes')
  .refine((s) => !s.startsWith('-') && !s.startsWith('.') && !s.includes('..'), 'unit names may not start with "-" or "." or contain ".."')
  .describe('unit name; ".service" is assumed when no unit type is given');

/** The exact unit name systemd will use: `nginx` → `nginx.service`. */
export function resolveUnitName(name: string): string {
  const dot = name.lastIndexOf('.');
  const suffix = dot > 0 ? name.slice(dot + 1) : '';
  return (UNIT_SUFFIXES as readonly string[]).includes(suffix) ? name : `${name}.service`;
}

/** Journal priorities by name, as journalctl takes them. */
export const PRIORITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** A priority as a name (`err`, `warning`, ...) or a number 0-7; means "this or more severe". */
export const priority = z
  .string()
  .regex(/^([0-7]|emerg|alert|crit|err|warning|notice|info|debug)$/, 'priority is a name (emerg, alert, crit, err, warning, notice, info, debug) or 0-7')
  .describe('lowest severity to include: a name (err, warning, ...) or 0-7');

/** Priority name or number → number. */
export function priorityNumber(p: string): number {
  return /^[0-7]$/.test(p) ? Number(p) : PRIORITIES.indexOf(p as (typeof PRIORITIES)[number]);
}

/** A point in time: a duration ago (`30m`, `2h`, `7d`) or an ISO 8601 timestamp. */
export const timeSpec = z
  .string()
  .regex(/^(\d{1,6}(ms|s|m|h|d)|\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?)$/, 'a duration ago such as 30m, 2h, 7d, or an ISO 8601 timestamp')
  .describe('a duration ago (30m, 2h, 7d) or an ISO 8601 timestamp');

/** One journal entry as ku returns it. */
export const journalEntry = z.object({
  time: z.string().describe('ISO 8601 time of the entry'),
  unit: z.string().describe('systemd unit the entry belongs to, or the syslog identifier'),
  priority: z.number().int().describe('0 (emerg) to 7 (debug)'),
  priorityName: z.string(),
  message: z.string(),
  pid: z.number().int().nullable(),
});

/** What a capped read says when it stopped early. */
export const truncation = z
  .object({
    reason: z.enum(['lines', 'bytes']).describe('which cap was reached'),
    limit: z.number().describe('the cap'),
  })
  .nullable()
  .describe('null when complete; otherwise more entries matched than were returned');

/** Status of one unit as systemd reports it over D-Bus. */
export const unitStatus = z.object({
  unit: z.string().describe('exact unit name systemd resolved'),
  description: z.string(),
  loadState: z.string().describe('loaded, not-found, masked, error, ...'),
  activeState: z.string().describe('active, inactive, failed, activating, deactivating, reloading'),
  subState: z.string().describe('running, dead, failed, exited, ...'),
  result: z.string().nullable().describe('result of the last run (success, exit-code, signal, ...), for services'),
  mainPid: z.number().int().nullable().describe('main process id, when running'),
  since: z.string().nullable().describe('when the unit entered its current state'),
  nRestarts: z.number().int().nullable().describe('automatic restarts systemd made, for services'),
  memoryBytes: z.number().nullable().describe('current memory, where systemd accounts it'),
  cpuNsec: z.number().nullable().describe('CPU time used, where systemd accounts it'),
  unitFileState: z.string().describe('enabled, disabled, static, masked, ...'),
  execMainStatus: z.number().int().nullable().describe('exit status of the main process, for services'),
});
