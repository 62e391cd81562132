import type { z } from 'zod';
import type { ErrorCode } from './errors.js';

/** The CLI programs that carry operation commands. */
export const OP_BINS = ['ku-diag', 'ku-sys', 'ku-pg', 'ku-slurm', 'ku-k8s'] as const;
export type OpBin = (typeof OP_BINS)[number];

/** How risky an operation is to run; shown to callers and used by policy later. */
export type Risk = 'none' | 'low' | 'medium' | 'high';

/**
 * The contract of one operation. Everything else (CLI flags, hub validation,
 * agent dispatch, docs, tool schemas) is derived from it.
 */
export interface OpSpec<P extends z.ZodObject = z.ZodObject, R extends z.ZodType = z.ZodType> {
  /** `domain.verb`, e.g. `diag.host`. */
  readonly name: string;
  readonly summary: string;
  /** Whether the operation changes the target's state. */
  readonly mutates: boolean;
  readonly risk: Risk;
  /** Default and maximum run time on the agent. */
  readonly timeoutMs: number;
  readonly params: P;
  readonly result: R;
  /** Error codes the operation itself may return (beyond the pipeline's). */
  readonly errors: readonly ErrorCode[];
  readonly cli: {
    readonly bin: OpBin;
    readonly command: string;
    /** Param names that may be given as positional arguments, in order. */
    readonly positional?: readonly string[];
    /** Extra spellings of the command. */
    readonly aliases?: readonly string[];
    /** Extra spellings of flags: alias (kebab-case, no dashes) → the param's own flag. */
    readonly flagAliases?: Readonly<Record<string, string>>;
  };
  /** Whether the change can destroy or interrupt something (a dropped index, a restarted service). */
  readonly destructive?: boolean;
  /** Result fields the hub copies into the audit outcome record (e.g. the new job id). */
  readonly auditFields?: readonly string[];
}

/** Declare an operation spec with its types inferred. */
export function defineOp<P extends z.ZodObject, R extends z.ZodType>(spec: OpSpec<P, R>): OpSpec<P, R> {
  return Object.freeze(spec);
}

/** Params type of an op spec. */
export type ParamsOf<S> = S extends OpSpec<infer P, z.ZodType> ? z.output<P> : never;
/** Result type of an op spec. */
export type ResultOf<S> = S extends OpSpec<z.ZodObject, infer R> ? z.output<R> : never;
