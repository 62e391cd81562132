/**
 * The only way agent code starts a program: an argv array (never a shell),
 * a deadline, an abort signal and a cap on captured output.
 */
import { spawn } from 'node:child_process';
import { KuError } from '../proto/errors.js';

export interface ExecOptions {
  /** Kill the process after this long (SIGTERM, then SIGKILL after a grace period). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Cap on each of stdout and stderr; beyond it output is dropped and `truncated` set. */
  maxOutputBytes?: number;
  cwd?: string;
  /** The environment, exactly; the agent's own is not inherited unless passed. */
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
  stdin?: string;
  /**
   * Stream stdout line by line instead of collecting it. Return false to stop
   * reading: the program is then terminated and `stoppedEarly` set.
   */
  onLine?: (line: string) => boolean | void;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  /** onLine asked to stop before the program ended. */
  stoppedEarly: boolean;
  durationMs: number;
}

/** Runs a program. Injected into operations so they can be unit-tested. */
export type Executor = (argv: readonly string[], opts: ExecOptions) => Promise<ExecResult>;

const KILL_GRACE_MS = 2000;
const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The real executor over child_process.spawn with `shell: false`. */
export const execArgv: Executor = (argv, opts) => {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    return Promise.reject(new KuError('KU_ERR_INTERNAL', 'executor needs a non-empty argv of strings without NUL bytes'));
  }
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new KuError('KU_ERR_CANCELLED', 'aborted before start'));
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), {
      shell: false,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      cwd: opts.cwd ?? '/',
      env: opts.env ?? { PATH: SAFE_PATH, LANG: 'C.UTF-8' },
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
      detached: false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let truncated = false;
    let timedOut = false;
    let aborted = false;
    let stoppedEarly = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (killTimer) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    let partial = '';
    const collect = (buf: Buffer, into: Buffer[], len: number): number => {
      const room = max - len;
      if (room <= 0) {
        truncated = true;
        return len;
      }
      if (buf.length > room) truncated = true;
      into.push(buf.subarray(0, room));
      return len + Math.min(room, buf.length);
    };
    if (opts.onLine) {
      const onLine = opts.onLine;
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (text: string) => {
        if (stoppedEarly) return;
        const parts = (partial + text).split('\n');
        partial = parts.pop() ?? '';
        if (partial.length > max) {
          truncated = true;
          partial = '';
        }
        for (const line of parts) {
          if (onLine(line) === false) {
            stoppedEarly = true;
            stop();
            return;
          }
        }
      });
    } else child.stdout!.on('data', (b: Buffer) => (outLen = collect(b, out, outLen)));
    child.stderr!.on('data', (b: Buffer) => (errLen = collect(b, err, errLen)));
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new KuError('KU_ERR_OP_FAILED', `cannot run ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (opts.onLine && partial && !stoppedEarly) opts.onLine(partial);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        truncated,
        timedOut,
        aborted,
        stoppedEarly,
        durationMs: Date.now() - started,
      });
    });
  });
};
