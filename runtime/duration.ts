const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse `500ms`, `30s`, `5m`, `1h`, `7d` (or a bare number of milliseconds) to milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(text)}: use e.g. 30s, 5m, 1h, 7d`);
  const n = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid duration ${JSON.stringify(text)}: must be positive`);
  return Math.round(n);
}
