/**
 * What an operation remembers across calls on this agent (restart budgets per unit, resubmissions
 * per Slurm job). Budgets that an agent restart resets are no budgets: a package upgrade, a crash
 * or `systemctl restart ku-agent` would hand a storm a fresh allowance. So each op's store is a
 * JSON file in the agent's state directory, written atomically on every change and read back at
 * start. Values must be plain JSON (numbers, arrays, objects).
 *
 *   STATE/store/sys.restart.json   {"web.service": [1796339059179, ...]}
 */
import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../runtime/fsutil.js';

/** A Map that saves itself to `file` after every change (or keeps to memory when `file` is null). */
export class OpStore extends Map<string, unknown> {
  private readonly file: string | null;

  /** `onUnreadable` hears of a file that cannot be read; the store then starts empty. */
  constructor(file: string | null, onUnreadable: (err: Error) => void = () => undefined) {
    super();
    this.file = file;
    if (!file) return;
    try {
      const saved = readJsonIfExists<Record<string, unknown>>(file);
      if (saved && typeof saved === 'object' && !Array.isArray(saved)) for (const [k, v] of Object.entries(saved)) super.set(k, v);
    } catch (e) {
      onUnreadable(e as Error);
    }
  }

  override set(key: string, value: unknown): this {
    super.set(key, value);
    this.save();
    return this;
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) this.save();
    return had;
  }

  override clear(): void {
    super.clear();
    this.save();
  }

  private save(): void {
    if (this.file) writeJsonAtomic(this.file, Object.fromEntries(this), 0o600);
  }
}

/** The file of one op's store under a state directory. */
export function opStoreFile(storeDir: string, op: string): string {
  return join(storeDir, `${op.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
}
