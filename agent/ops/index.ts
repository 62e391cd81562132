import type { OpImpl } from './types.js';
import diagHost from './diag-host.js';
import diagPing from './diag-ping.js';
import diagService from './diag-service.js';
import journalQuery from './journal-query.js';
import k8sUnreadyLogs from './k8s-unready-logs.js';
import pgAdvise from './pg-advise.js';
import pgApplyIndex from './pg-apply-index.js';
import pgDropIndex from './pg-drop-index.js';
import { builds as pgBuilds, explain as pgExplain, topQueries as pgTopQueries } from './pg-read.js';
import pgVerifyIndex from './pg-verify-index.js';
import slurmJob from './slurm-job.js';
import slurmResubmit from './slurm-resubmit.js';
import sysFailed from './sys-failed.js';
import sysRestart from './sys-restart.js';
import sysStatus from './sys-status.js';

/**
 * Every operation this agent build can perform. The agent config (allowlist)
 * narrows it per host. Adding an op: one file in this folder plus one line here.
 */
export const OP_TABLE: readonly OpImpl[] = [
  diagHost, diagPing, diagService, journalQuery, sysStatus, sysRestart, sysFailed,
  pgTopQueries, pgExplain, pgAdvise, pgApplyIndex, pgVerifyIndex, pgDropIndex, pgBuilds,
  slurmJob, slurmResubmit, k8sUnreadyLogs,
];
