/**
 * Output: data to stdout, status to stderr. JSON lines when --json or when
 * stdout is not a terminal; a readable rendering on a terminal.
 */
import { ERRORS, exitCodeOf, KuError, type KuErrorBody } from '../proto/errors.js';
import { EXIT } from '../proto/exit-codes.js';

/** One host's result, as printed (DESIGN.md result contract). */
export interface ResultLine {
  host: string | null;
  op: string;
  ok: boolean;
  data?: unknown;
  error?: KuErrorBody;
  durationMs: number;
  auditId: string | null;
}

export interface Out {
  json: boolean;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  color: boolean;
}

export function processOut(jsonFlag: boolean | undefined): Out {
  const tty = !!process.stdout.isTTY;
  return {
    json: jsonFlag === true || !tty,
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    color: tty && !process.env.NO_COLOR,
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fmtScalar(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function humanBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

function fmtField(key: string, v: unknown): string {
  if (typeof v === 'number' && /Bytes$/.test(key)) return humanBytes(v);
  return fmtScalar(v);
}

/** An array of flat objects as an aligned table. */
export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '  (none)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => fmtField(c, r[c])));
  const width = cols.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((row) => row[i]!.length))));
  const line = (vals: string[]): string => `  ${vals.map((v, i) => (v.length > width[i]! ? `${v.slice(0, width[i]! - 1)}…` : v.padEnd(width[i]!))).join('  ')}`.trimEnd();
  return [line(cols), ...cells.map(line)].join('\n');
}

/** Human rendering of result data: scalars as `key: value`, arrays of objects as tables. */
export function renderData(data: unknown, indent = ''): string {
  if (!isPlainObject(data)) return `${indent}${fmtScalar(data)}`;
  const out: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (Array.isArray(v) && v.every(isPlainObject)) out.push(`${indent}${k}:`, table(v as Record<string, unknown>[]).replace(/^/gm, indent));
    else if (isPlainObject(v)) {
      const flat = Object.values(v).every((x) => !isPlainObject(x) && !Array.isArray(x));
      if (flat) out.push(`${indent}${k}: ${Object.entries(v).map(([a, b]) => `${a}=${fmtField(a, b)}`).join('  ')}`);
      else out.push(`${indent}${k}:`, renderData(v, `${indent}  `));
    } else out.push(`${indent}${k}: ${Array.isArray(v) ? v.map(fmtScalar).join(', ') : fmtField(k, v)}`);
  }
  return out.join('\n');
}

export function printResult(out: Out, r: ResultLine, many: boolean): void {
  if (out.json) {
    out.stdout(`${JSON.stringify(r)}\n`);
    return;
  }
  if (r.ok) {
    if (many) out.stdout(`== ${r.host} (${r.durationMs} ms)\n`);
    out.stdout(`${renderData(r.data)}\n`);
  } else printError(out, KuError.fromBody(r.error!), r.host);
}

export function printError(out: Out, err: KuError, host: string | null = null): void {
  const where = host ? `${host}: ` : '';
  const red = (s: string): string => (out.color ? `\x1b[31m${s}\x1b[0m` : s);
  out.stderr(`${red(`error: ${where}${err.code}`)}: ${err.message}\n  hint: ${ERRORS[err.code].hint}\n`);
}

/** A refusal of the whole call, printed in the output mode. */
export function printCallError(out: Out, err: KuError, op: string): void {
  if (out.json) out.stdout(`${JSON.stringify({ host: null, op, ok: false, error: err.toBody(), durationMs: 0, auditId: null } satisfies ResultLine)}\n`);
  else printError(out, err);
}

/** Exit code of a finished command from its results: ok if all ok, else the shared class, else 1. */
export function exitCodeFor(results: ResultLine[]): number {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return EXIT.ok;
  const codes = new Set(failed.map((r) => exitCodeOf(r.error!.code)));
  return codes.size === 1 ? [...codes][0]! : EXIT.failed;
}
