/**
 * Append-only, hash-chained audit log (audit.jsonl). Each record holds the
 * SHA-256 of the previous record (`prev`) and its own hash over its canonical
 * JSON; `audit.head` holds the sequence number and hash of the newest record,
 * so removing records at the end is detected too. Only the hub process writes.
 *
 *   record n:  {seq:n, ..., prev: hash(n-1), hash: sha256(prev + json(record without hash))}
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';

export const GENESIS = '0'.repeat(64);

/** Kinds of audit record. */
export type AuditKind = 'intent' | 'outcome' | 'refused' | 'event';

/** What callers supply; the log adds seq, time, prev and hash. */
export interface AuditEntry {
  kind: AuditKind;
  /** Audit id: an intent and its outcome share one. */
  id?: string;
  principal: string | null;
  session?: string;
  op?: string;
  params?: unknown;
  target?: string | null;
  ok?: boolean;
  code?: string | null;
  durationMs?: number;
  /** selected result fields of an outcome (the op spec's auditFields) */
  result?: unknown;
  detail?: unknown;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  time: string;
  id: string;
  prev: string;
  hash: string;
}

function hashOf(prev: string, body: string): string {
  return createHash('sha256').update(prev).update('\n').update(body).digest('hex');
}

/** JSON of a record without its hash, in the order it was written. */
function bodyOf(rec: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _h, ...rest } = rec;
  return JSON.stringify(rest);
}

/** Read the last complete line of a file without reading all of it. */
function lastLine(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let chunk = 64 * 1024;
    while (true) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString('utf8').replace(/\n+$/, '');
      const nl = text.lastIndexOf('\n');
      if (nl >= 0 || start === 0) return text.slice(nl + 1) || undefined;
      chunk *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

/** The writer. One per hub process. */
export class AuditLog {
  private seq: number;
  private prev: string;
  private readonly fd: number;

  constructor(
    private readonly path: string,
    private readonly headPath: string,
    private readonly fsync = false,
  ) {
    const last = lastLine(path);
    if (last) {
      const rec = JSON.parse(last) as AuditRecord;
      this.seq = rec.seq;
      this.prev = rec.hash;
    } else {
      this.seq = 0;
      this.prev = GENESIS;
    }
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Append one record synchronously (it is on disk before the caller goes on). */
  append(entry: AuditEntry): AuditRecord {
    const partial = { seq: this.seq + 1, time: new Date().toISOString(), ...entry, id: entry.id ?? randomUUID(), prev: this.prev };
    const body = bodyOf(partial);
    const hash = hashOf(this.prev, body);
    const rec: AuditRecord = { ...partial, hash };
    writeSync(this.fd, `${JSON.stringify(rec)}\n`);
    if (this.fsync) fsyncSync(this.fd);
    this.seq = rec.seq;
    this.prev = hash;
    const tmp = `${this.headPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ seq: rec.seq, hash }), { mode: 0o600 });
    renameSync(tmp, this.headPath);
    return rec;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** One problem found by verification. */
export interface AuditProblem {
  line: number;
  problem: string;
}

/** Check the whole chain and the head. */
export function verifyAudit(path: string, headPath: string): { ok: boolean; records: number; problems: AuditProblem[] } {
  const problems: AuditProblem[] = [];
  // Read the head before the log: the head only ever names a record already written.
  const head = existsSync(headPath) ? (JSON.parse(readFileSync(headPath, 'utf8')) as { seq: number; hash: string }) : undefined;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const lines = text.split('\n').filter((l) => l.length > 0);
  let prev = GENESIS;
  let seq = 0;
  let headSeen = head === undefined;
  lines.forEach((line, i) => {
    const n = i + 1;
    let rec: AuditRecord;
    try {
      rec = JSON.parse(line) as AuditRecord;
    } catch {
      problems.push({ line: n, problem: 'not valid JSON' });
      return;
    }
    if (rec.seq !== seq + 1) problems.push({ line: n, problem: `sequence ${rec.seq} where ${seq + 1} was expected (record removed or reordered)` });
    if (rec.prev !== prev) problems.push({ line: n, problem: 'previous-hash link broken (record removed, inserted or reordered)' });
    if (hashOf(rec.prev, bodyOf(rec)) !== rec.hash) problems.push({ line: n, problem: 'hash mismatch (record edited)' });
    if (head && rec.seq === head.seq) {
      headSeen = true;
      if (rec.hash !== head.hash) problems.push({ line: n, problem: 'record differs from the one audit.head names' });
    }
    prev = rec.hash;
    seq = rec.seq;
  });
  if (!headSeen) problems.push({ line: lines.length, problem: `log ends before record ${head!.seq} named by audit.head (records removed from the end)` });
  return { ok: problems.length === 0, records: lines.length, problems };
}

/** The newest records, optionally filtered. */
export function readAudit(path: string, opts: { limit?: number; op?: string; principal?: string } = {}): AuditRecord[] {
  if (!existsSync(path)) return [];
  const out: AuditRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const rec = JSON.parse(line) as AuditRecord;
    if (opts.op && rec.op !== opts.op) continue;
    if (opts.principal && rec.principal !== opts.principal) continue;
    out.push(rec);
  }
  return opts.limit ? out.slice(-opts.limit) : out;
}
