import type { OpImpl } from './types.js';
import diagHost from './diag-host.js';

/**
 * Every operation this agent build can perform. The agent config (allowlist)
 * narrows it per host. Adding an op: one file in this folder plus one line here.
 */
export const OP_TABLE: readonly OpImpl[] = [diagHost];
