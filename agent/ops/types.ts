import type { z } from 'zod';
import type { OpSpec } from '../../proto/op-spec.js';
import type { Logger } from '../../runtime/log.js';
import type { HostSettings } from '../config.js';
import type { Executor } from '../executor.js';

/** What an operation gets from the dispatch pipeline. */
export interface OpContext<L = unknown> {
  /** Aborted at the deadline or when the caller cancels. */
  signal: AbortSignal;
  /** Absolute deadline, unix ms. */
  deadline: number;
  /** This host's limits for the op, from the agent config. */
  limits: L;
  log: Logger;
  exec: Executor;
  /** Stream a progress report (any JSON) to the caller. */
  progress(data: unknown): void;
  /** Stream a chunk of partial results (any JSON) to the caller. */
  chunk(data: unknown): void;
  /** Host-level settings from the agent config (how to reach systemd, the journal, ...). */
  host: HostSettings;
  /** State this op keeps across calls on this agent (e.g. restart budgets). */
  store: Map<string, unknown>;
  /** The principal and audit id the hub attached, for provenance. */
  principal: string;
  auditId: string;
}

/**
 * An operation's implementation on the agent: domain logic only. Validation,
 * allowlist, deadline, cancellation, error mapping and logging are done by the
 * dispatch pipeline around it.
 */
export interface OpImpl<S extends OpSpec = OpSpec, L extends z.ZodObject = z.ZodObject> {
  readonly spec: S;
  /** Schema of this op's entry in the agent config (its per-host limits). */
  readonly limits: L;
  /** Checks of params against limits that need no I/O; throw KuError. Runs before anything else. */
  check?(params: z.output<S['params']>, limits: z.output<L>): void;
  run(params: z.output<S['params']>, ctx: OpContext<z.output<L>>): Promise<z.output<S['result']>>;
}

/** Declare an implementation with its types inferred from the spec. */
export function implement<S extends OpSpec, L extends z.ZodObject>(impl: OpImpl<S, L>): OpImpl {
  return impl as unknown as OpImpl;
}
