import { chmodSync, chownSync, mkdirSync, statSync, readFileSync, renameSync, writeFileSync, existsSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Write a file atomically (temp file + rename) with the given mode. When root writes into a
 * directory that another user owns (`ku-hub token create --state /var/lib/ku-hub` on a hub that
 * runs as ku-hub), the file goes to the directory's owner, so the service can still read it.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  if (process.getuid?.() === 0) {
    const dir = statSync(dirname(path));
    if (dir.uid !== 0) chownSync(tmp, dir.uid, dir.gid);
  }
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Write JSON atomically, pretty-printed. */
export function writeJsonAtomic(path: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** Read JSON, or undefined when the file does not exist. */
export function readJsonIfExists<T = unknown>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
