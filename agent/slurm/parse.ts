/** Parsing Slurm's machine-readable output: sacct --parsable2 and scontrol -o. */

export const SACCT_FIELDS = [
  'JobID', 'JobIDRaw', 'JobName', 'State', 'ExitCode', 'Reason', 'ReqMem', 'MaxRSS', 'ElapsedRaw', 'TimelimitRaw',
  'Partition', 'User', 'UID', 'WorkDir', 'NodeList', 'Submit', 'Start', 'End', 'ReqCPUS',
] as const;

export type SacctRow = Record<(typeof SACCT_FIELDS)[number], string>;

/** Rows of `sacct --parsable2 --noheader --format=SACCT_FIELDS`. */
export function parseSacct(text: string): SacctRow[] {
  return text
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((line) => {
      const parts = line.split('|');
      return Object.fromEntries(SACCT_FIELDS.map((f, i) => [f, parts[i] ?? ''])) as SacctRow;
    });
}

/** `scontrol show job -o` (one line of KEY=VALUE; values may contain spaces). */
export function parseScontrol(text: string): Record<string, string> {
  const line = text.trim().split('\n')[0] ?? '';
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/(?:^|\s)([A-Za-z][\w/:]*)=(.*?)(?=\s[A-Za-z][\w/:]*=|\s*$)/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Slurm memory (`100M`, `2G`, `512K`, `1.50G`, optionally with n/c suffix) in MB. */
export function memMB(v: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)[nc]?$/i.exec(v ?? '');
  if (!m) return null;
  const mult: Record<string, number> = { '': 1, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };
  return Math.round(Number(m[1]) * mult[m[2]!.toUpperCase()]! * 100) / 100;
}

/** Slurm time spec (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`) in seconds. */
export function timeSec(v: string): number | null {
  let m = /^(\d+)-(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?$/.exec(v);
  if (m) return Number(m[1]) * 86400 + Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  m = /^(\d+)(?::(\d{1,2})(?::(\d{1,2}))?)?$/.exec(v);
  if (!m) return null;
  if (m[3] !== undefined) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  if (m[2] !== undefined) return Number(m[1]) * 60 + Number(m[2]);
  return Number(m[1]) * 60;
}

/** `exit:signal` → numbers. */
export function exitCode(v: string | undefined): { exitCode: number | null; signal: number | null } {
  const m = /^(\d+):(\d+)$/.exec(v ?? '');
  return m ? { exitCode: Number(m[1]), signal: Number(m[2]) } : { exitCode: null, signal: null };
}

export const iso = (v: string | undefined): string | null => (v && /^\d{4}-/.test(v) ? new Date(`${v}Z`).toISOString().replace('.000Z', 'Z') : null);
