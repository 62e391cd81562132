/**
 * Reading the journal through `journalctl -o json` (argv only, never a
 * shell), newest first, with caps on entries and bytes that stop the reader
 * and say so instead of losing entries silently.
 */
import { parseDuration } from '../../runtime/duration.js';
import { KuError } from '../../proto/errors.js';
import { PRIORITIES } from '../../proto/catalogue/systemd-common.js';
import type { Executor } from '../executor.js';

export interface JournalEntry {
  time: string;
  unit: string;
  priority: number;
  priorityName: string;
  message: string;
  pid: number | null;
}

export interface JournalRequest {
  unit?: string;
  /** include this priority and more severe (lower numbers) */
  priority?: number;
  since?: string;
  until?: string;
  limit: number;
  maxBytes: number;
  /** fixed-string match on the message */
  match?: string;
  directory?: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** called with batches of entries as they are read */
  onBatch?: (entries: JournalEntry[]) => void;
  batchSize?: number;
}

export interface JournalResult {
  entries: JournalEntry[];
  truncated: { reason: 'lines' | 'bytes'; limit: number } | null;
}

/** Longest message kept per entry; longer ones are clipped with a marker. */
const MAX_MESSAGE = 16 * 1024;

/** A time spec (duration ago or ISO timestamp) as journalctl's `@SECONDS`. */
export function journalTime(spec: string, now = Date.now()): string {
  const ms = /^\d/.test(spec) && !spec.includes('-') ? now - parseDuration(spec) : Date.parse(spec);
  if (!Number.isFinite(ms)) throw new KuError('KU_ERR_INVALID_PARAMS', `invalid time ${JSON.stringify(spec)}`);
  return `@${Math.floor(ms / 1000)}`;
}

function messageOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return Buffer.from(v as number[]).toString('utf8'); // binary-safe MESSAGE
  return v === null || v === undefined ? '' : String(v);
}

/** One `journalctl -o json` line → entry. */
export function parseEntry(line: string): JournalEntry | null {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  const p = Number(j.PRIORITY ?? 6);
  let message = messageOf(j.MESSAGE);
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE)}…[message truncated]`;
  const pid = Number(j._PID);
  return {
    time: new Date(Number(j.__REALTIME_TIMESTAMP ?? 0) / 1000).toISOString(),
    unit: String(j._SYSTEMD_UNIT ?? j.UNIT ?? j.SYSLOG_IDENTIFIER ?? ''),
    priority: Number.isInteger(p) ? p : 6,
    priorityName: PRIORITIES[p] ?? 'info',
    message,
    pid: Number.isInteger(pid) ? pid : null,
  };
}

/** The argv for a request; exported for tests. */
export function journalArgv(q: Omit<JournalRequest, 'signal' | 'timeoutMs' | 'onBatch'>): string[] {
  const argv = ['journalctl', '--no-pager', '--quiet', '--output=json', '--reverse'];
  if (q.directory) argv.push(`--directory=${q.directory}`);
  if (q.unit) argv.push(`--unit=${q.unit}`);
  if (q.priority !== undefined) argv.push(`--priority=${q.priority}`);
  if (q.since) argv.push(`--since=${journalTime(q.since)}`);
  if (q.until) argv.push(`--until=${journalTime(q.until)}`);
  // Without a match, journalctl itself can stop after limit+1 entries (one more tells us it was cut).
  if (!q.match) argv.push(`--lines=${q.limit + 1}`);
  return argv;
}

/** Read the journal newest first, streaming batches, within the caps. */
export async function readJournal(exec: Executor, q: JournalRequest): Promise<JournalResult> {
  const entries: JournalEntry[] = [];
  let batch: JournalEntry[] = [];
  let bytes = 0;
  let truncated: JournalResult['truncated'] = null;
  const flush = (): void => {
    if (batch.length && q.onBatch) q.onBatch(batch);
    batch = [];
  };
  const r = await exec(journalArgv(q), {
    timeoutMs: q.timeoutMs,
    signal: q.signal,
    maxOutputBytes: 64 * 1024,
    onLine: (line) => {
      if (!line) return true;
      const e = parseEntry(line);
      if (!e) return true;
      if (q.match && !e.message.includes(q.match)) return true;
      if (entries.length >= q.limit) {
        truncated = { reason: 'lines', limit: q.limit };
        return false;
      }
      const size = Buffer.byteLength(e.message) + 64;
      if (bytes + size > q.maxBytes) {
        truncated = { reason: 'bytes', limit: q.maxBytes };
        return false;
      }
      bytes += size;
      entries.push(e);
      batch.push(e);
      if (batch.length >= (q.batchSize ?? 200)) flush();
      return true;
    },
  });
  flush();
  if (r.aborted) throw q.signal.reason instanceof KuError ? q.signal.reason : new KuError('KU_ERR_CANCELLED', 'journal read cancelled');
  if (r.timedOut) throw new KuError('KU_ERR_TIMEOUT', 'journal read took too long');
  if (!r.stoppedEarly && r.code !== 0) {
    // No matching entries is exit 0 under --quiet; any other exit is a real failure (bad directory, no access).
    throw new KuError('KU_ERR_JOURNAL_FAILED', `journalctl exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
  }
  return { entries, truncated };
}
