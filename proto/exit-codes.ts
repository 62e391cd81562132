/**
 * Process exit codes of every ku CLI (DESIGN.md "Results, errors, exit codes").
 * Each error code in the registry names one of these classes.
 */
export const EXIT = {
  ok: 0,
  /** The operation ran on a target and failed there. */
  failed: 1,
  /** Bad input: flags, params, identity or config; nothing was sent or nothing ran. */
  input: 2,
  /** Refused by policy: authentication, the hub's roles, or the agent's allowlist. */
  denied: 3,
  /** The hub or agent could not be reached, went away, or the deadline passed. */
  unavailable: 4,
} as const;

/** Name of an exit class. */
export type ExitClass = keyof typeof EXIT;
