import type { OpSpec } from '../op-spec.js';
import { diagHost } from './diag-host.js';
import { diagPing } from './diag-ping.js';
import { diagService } from './diag-service.js';
import { journalQuery } from './journal-query.js';
import { k8sUnreadyLogs } from './k8s-ops.js';
import { pgAdvise, pgApplyIndex, pgBuilds, pgDropIndex, pgExplain, pgTopQueries, pgVerifyIndex } from './pg-ops.js';
import { slurmJob, slurmResubmit } from './slurm-ops.js';
import { sysFailed } from './sys-failed.js';
import { sysRestart } from './sys-restart.js';
import { sysStatus } from './sys-status.js';

/**
 * Every operation ku knows. Adding an operation: one spec file here plus one
 * line in this list, then its implementation in agent/ops (see agent/README.md).
 */
export const CATALOGUE: readonly OpSpec[] = [diagHost, diagPing, diagService, journalQuery, sysStatus, sysRestart, sysFailed,
  pgTopQueries, pgExplain, pgAdvise, pgApplyIndex, pgVerifyIndex, pgDropIndex, pgBuilds,
  slurmJob, slurmResubmit, k8sUnreadyLogs];

/** A lookup table over a list of specs (the catalogue, or a test's own). */
export class Catalogue {
  readonly specs: ReadonlyMap<string, OpSpec>;
  constructor(specs: readonly OpSpec[]) {
    const map = new Map<string, OpSpec>();
    for (const s of specs) {
      if (map.has(s.name)) throw new Error(`duplicate op ${s.name}`);
      map.set(s.name, s);
    }
    this.specs = map;
  }
  get(name: string): OpSpec | undefined {
    return this.specs.get(name);
  }
  list(): OpSpec[] {
    return [...this.specs.values()];
  }
}

/** The default catalogue. */
export const catalogue = new Catalogue(CATALOGUE);
