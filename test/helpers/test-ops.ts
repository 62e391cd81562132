/**
 * A test-only operation, `test.sleep`, added to the catalogue and op table of
 * hubs and agents built in tests: it runs until told to stop, its deadline, or
 * cancellation, and reports when it starts and how it ended, so tests can wait
 * on conditions instead of sleeping.
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { OP_TABLE } from '../../agent/ops/index.js';
import { implement } from '../../agent/ops/types.js';
import { Catalogue, CATALOGUE } from '../../proto/catalogue/index.js';
import { defineOp } from '../../proto/op-spec.js';
import { KuError } from '../../proto/errors.js';

export const testSleep = defineOp({
  name: 'test.sleep',
  summary: 'wait for a while (tests only)',
  mutates: true,
  risk: 'low',
  timeoutMs: 120_000,
  params: z.object({ ms: z.number().int().min(0).max(120_000).describe('how long'), tag: z.string().default('') }).strict(),
  result: z.object({ slept: z.number() }),
  errors: [],
  cli: { bin: 'ku-diag', command: 'test-sleep' },
});

/** Events: 'started' (tag), 'ended' ({tag, aborted}). */
export const sleepEvents = new EventEmitter();

/** How many test.sleep ops run at this moment, across every agent in this process. */
export const running = { now: 0, max: 0 };

export const testSleepImpl = implement({
  spec: testSleep,
  limits: z.object({ fail: z.boolean().default(false).describe('this agent fails every call (fan-out error tests)') }).strict(),
  async run(params, ctx) {
    if (ctx.limits.fail) throw new KuError('KU_ERR_OP_FAILED', 'this test agent is configured to fail');
    running.now++;
    running.max = Math.max(running.max, running.now);
    sleepEvents.emit('started', params.tag);
    try {
      return await sleepFor(params, ctx);
    } finally {
      running.now--;
    }
  },
});

async function sleepFor(params: { ms: number; tag: string }, ctx: { signal: AbortSignal }): Promise<{ slept: number }> {
  {
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, params.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        sleepEvents.emit('ended', { tag: params.tag, aborted: true });
        reject(ctx.signal.reason);
      });
    });
    sleepEvents.emit('ended', { tag: params.tag, aborted: false });
    return { slept: Date.now() - t0 };
  }
}

export const testCatalogue = new Catalogue([...CATALOGUE, testSleep]);
export const testTable = [...OP_TABLE, testSleepImpl];

/** Resolve when `event` fires with a payload matching `pred`. */
export function once<T>(em: EventEmitter, event: string, pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T): void => {
      if (pred(v)) {
        em.off(event, on);
        resolve(v);
      }
    };
    em.on(event, on);
  });
}
