import { EXIT, type ExitClass } from './exit-codes.js';

interface ErrorDef {
  /** Which exit code a CLI returns when this error ends a command. */
  readonly exit: Exclude<ExitClass, 'ok'>;
  /** Whether the same call may succeed if simply retried later. */
  readonly retryable: boolean;
  /** One line that tells the caller (often an AI) what to do next. */
  readonly hint: string;
}

/**
 * The closed registry of ku error codes. Callers decide on the code and the
 * `retryable` flag, never on message text. Every code is listed in README.md
 * (a test checks it).
 */
export const ERRORS = {
  // input
  KU_ERR_INVALID_PARAMS: { exit: 'input', retryable: false, hint: 'Fix the parameters named in the message; run the command with --help to see what it takes.' },
  KU_ERR_UNKNOWN_OP: { exit: 'input', retryable: false, hint: 'Use an operation from the catalogue; `ku ops` lists them.' },
  KU_ERR_USAGE: { exit: 'input', retryable: false, hint: 'Run the command with --help for its flags and arguments.' },
  KU_ERR_IDENTITY_MISSING: { exit: 'input', retryable: false, hint: 'Set KU_IDENTITY (or --identity) to a directory made by `ku-hub principal add`, or run `ku dev` and paste the exports it prints.' },
  KU_ERR_HUB_ADDRESS_MISSING: { exit: 'input', retryable: false, hint: 'Set KU_HUB (or --hub) to HOST:PORT of the hub.' },
  KU_ERR_CONFIG_INVALID: { exit: 'input', retryable: false, hint: 'Fix the config file at the paths listed in the message.' },
  KU_ERR_STATE_INVALID: { exit: 'input', retryable: false, hint: 'Point --state at a directory made by `ku-hub init` (or `ku-agent join` for an agent).' },
  KU_ERR_NO_TARGET: { exit: 'input', retryable: false, hint: 'No connected agent offers this operation; check `ku agents` and the agents\' allowlists, or name a host with --host.' },
  KU_ERR_AMBIGUOUS_TARGET: { exit: 'input', retryable: false, hint: 'Several agents offer this operation; pick one with --host NAME or narrow with --selector.' },
  KU_ERR_TARGET_UNKNOWN: { exit: 'input', retryable: false, hint: 'No agent with that name has joined this hub; `ku agents` lists them.' },
  KU_ERR_PG_QUERY_INVALID: { exit: 'input', retryable: false, hint: 'Give exactly one SELECT/INSERT/UPDATE/DELETE statement, without EXPLAIN; PostgreSQL\'s message says what it could not parse.' },
  KU_ERR_FANOUT_NEEDS_CONCURRENCY: { exit: 'input', retryable: false, hint: 'An operation that changes hosts runs on several only with an explicit --max-concurrency (e.g. 1 or 10%); no accidental "everywhere at once".' },
  KU_ERR_PAYLOAD_TOO_LARGE: { exit: 'input', retryable: false, hint: 'Send smaller parameters; the limit is in the message.' },
  // denied
  KU_ERR_AUTH_NO_CERT: { exit: 'denied', retryable: false, hint: 'Connect with a client certificate issued by this hub (KU_IDENTITY).' },
  KU_ERR_AUTH_UNTRUSTED_CERT: { exit: 'denied', retryable: false, hint: 'The certificate was not issued by this hub\'s CA; get one from this hub (`ku-hub principal add`).' },
  KU_ERR_AUTH_CERT_EXPIRED: { exit: 'denied', retryable: false, hint: 'The certificate has expired (or is not yet valid); ask the hub operator for a new one.' },
  KU_ERR_AUTH_BAD_CERT: { exit: 'denied', retryable: false, hint: 'The certificate is not a ku identity certificate; use one issued by `ku-hub`.' },
  KU_ERR_AUTH_REVOKED: { exit: 'denied', retryable: false, hint: 'This identity was revoked by the hub operator; a new one must be issued.' },
  KU_ERR_AUTH_WRONG_KIND: { exit: 'denied', retryable: false, hint: 'Agent certificates cannot call the control API and principal certificates cannot act as agents; use the right identity.' },
  KU_ERR_AUTH_UNKNOWN_PRINCIPAL: { exit: 'denied', retryable: false, hint: 'The hub has no record of this principal; ask the operator to add it.' },
  KU_ERR_HUB_UNTRUSTED: { exit: 'denied', retryable: false, hint: 'The server did not prove it is this hub (wrong CA or not a hub certificate); check the address and the CA in your identity.' },
  KU_ERR_POLICY_DENIED: { exit: 'denied', retryable: false, hint: 'Your role does not allow this operation on this target; ask for a role that does, or pick another target.' },
  KU_ERR_OP_NOT_ALLOWED: { exit: 'denied', retryable: false, hint: 'The target agent\'s allowlist does not enable this operation; the host\'s operator must add it to the agent config.' },
  KU_ERR_LIMIT_EXCEEDED: { exit: 'denied', retryable: false, hint: 'A parameter exceeds a limit in the agent\'s config; use a smaller value.' },
  KU_ERR_JOIN_TOKEN_INVALID: { exit: 'denied', retryable: false, hint: 'The join token is unknown or malformed; create one with `ku-hub token create`.' },
  KU_ERR_JOIN_TOKEN_USED: { exit: 'denied', retryable: false, hint: 'Join tokens are one-time; create a new one with `ku-hub token create`.' },
  KU_ERR_JOIN_TOKEN_EXPIRED: { exit: 'denied', retryable: false, hint: 'The join token has expired; create a new one with `ku-hub token create`.' },
  KU_ERR_UNIT_NOT_ALLOWED: { exit: 'denied', retryable: false, hint: 'The unit is not in the agent\'s sys.restart allowlist on that host; the host\'s operator must add it (names or globs).' },
  KU_ERR_RESTART_BUDGET_EXCEEDED: { exit: 'denied', retryable: true, hint: 'This unit was restarted too often recently (the agent\'s restart budget); find out why it keeps failing (ku-diag service-status) before trying again later.' },
  KU_ERR_SYSTEMD_DENIED: { exit: 'denied', retryable: false, hint: 'systemd or polkit refused the agent\'s user; regenerate and install the polkit rule (`ku-agent polkit-rule`) for the allowlist.' },
  KU_ERR_PG_DB_NOT_ALLOWED: { exit: 'denied', retryable: false, hint: 'That database is not configured on the agent; name one from its config with --db (ku-pg builds --help shows the flag).' },
  KU_ERR_PG_TABLE_NOT_ALLOWED: { exit: 'denied', retryable: false, hint: 'The table is outside the agent\'s allowlist for that database (system catalogs never qualify); pick an allowed table or ask the host\'s operator.' },
  KU_ERR_PG_INDEX_NOT_OURS: { exit: 'denied', retryable: false, hint: 'ku drops only indexes it made (its provenance comment); drop others through the DBA.' },
  KU_ERR_PG_INDEX_BACKS_CONSTRAINT: { exit: 'denied', retryable: false, hint: 'The index backs a primary key, unique or exclusion constraint; ku never drops those.' },
  KU_ERR_SLURM_NOT_RESUBMITTABLE: { exit: 'denied', retryable: false, hint: 'Only jobs that ended FAILED, OUT_OF_MEMORY, TIMEOUT, NODE_FAIL or CANCELLED by the system are resubmitted; check the state with `ku-slurm job`.' },
  KU_ERR_SLURM_FLAG_REFUSED: { exit: 'denied', retryable: false, hint: 'An added flag is not allowed or exceeds the agent\'s limits; the details name the token. Use only the allowlisted flags as --name or --name=value.' },
  KU_ERR_SLURM_USER_EXCLUDED: { exit: 'denied', retryable: false, hint: 'The agent does not resubmit jobs of this user (excludeUsers in its config).' },
  KU_ERR_SLURM_RESUBMIT_BUDGET: { exit: 'denied', retryable: false, hint: 'This job was resubmitted as often as the agent allows; look at why it keeps failing before trying by hand.' },
  KU_ERR_K8S_NAMESPACE_NOT_ALLOWED: { exit: 'denied', retryable: false, hint: 'The agent may not read that namespace (kubernetes.namespaces in its config); pick an allowed one.' },
  KU_ERR_JOIN_NAME_TAKEN: { exit: 'denied', retryable: false, hint: 'An agent with this name is already enrolled; pick another --name or revoke the old one first.' },
  // unavailable
  KU_ERR_HUB_UNREACHABLE: { exit: 'unavailable', retryable: true, hint: 'Check that the hub runs and KU_HUB points at it; then retry.' },
  KU_ERR_AGENT_OFFLINE: { exit: 'unavailable', retryable: true, hint: 'The agent is not connected to the hub now; check the agent service on that host, then retry.' },
  KU_ERR_AGENT_DISCONNECTED: { exit: 'unavailable', retryable: true, hint: 'The agent went away while the operation ran; its outcome is unknown: check the target\'s state, then retry.' },
  KU_ERR_TIMEOUT: { exit: 'unavailable', retryable: true, hint: 'The deadline passed before a result; the operation was cancelled. Retry with a longer --timeout if it is expected to be slow.' },
  KU_ERR_NOT_STARTED: { exit: 'unavailable', retryable: true, hint: 'This target was not started: the run stopped early (--max-errors exceeded or cancelled); rerun on the hosts listed.' },
  KU_ERR_CANCELLED: { exit: 'unavailable', retryable: true, hint: 'The call was cancelled before it finished; retry if still wanted.' },
  // failed on a target
  KU_ERR_UNIT_NOT_FOUND: { exit: 'failed', retryable: false, hint: 'systemd has no such unit on that host; check the name (`ku-sys failed`, `systemctl list-units` on the host).' },
  KU_ERR_UNIT_FAILED: { exit: 'failed', retryable: false, hint: 'The unit did not come back; the journal lines in the details say why. Fix the cause before restarting again.' },
  KU_ERR_SYSTEMD_UNAVAILABLE: { exit: 'failed', retryable: true, hint: 'The agent could not talk to systemd over D-Bus on that host; check that systemd and dbus run there.' },
  KU_ERR_JOURNAL_FAILED: { exit: 'failed', retryable: true, hint: 'Reading the journal failed on that host; the message has journalctl\'s error. Check the agent user is in the systemd-journal group.' },
  KU_ERR_PG_UNAVAILABLE: { exit: 'failed', retryable: true, hint: 'The agent could not connect to that database; check the server and the agent\'s connection secret.' },
  KU_ERR_PG_TABLE_NOT_FOUND: { exit: 'failed', retryable: false, hint: 'No such table in that database; names are case-sensitive as in the catalog (SCHEMA.NAME).' },
  KU_ERR_PG_COLUMN_NOT_FOUND: { exit: 'failed', retryable: false, hint: 'No such column in that table; names are case-sensitive as in the catalog.' },
  KU_ERR_PG_INDEX_NOT_FOUND: { exit: 'failed', retryable: false, hint: 'No such index; `ku-pg builds` and the catalog list what exists.' },
  KU_ERR_PG_LOCK_TIMEOUT: { exit: 'failed', retryable: true, hint: 'The build waited too long for a lock (a long or idle transaction holds the table); nothing was left behind. Retry later or end the blocking session (`ku-pg builds`).' },
  KU_ERR_PG_DUPLICATE_KEYS: { exit: 'failed', retryable: false, hint: 'The data has duplicate keys, so a unique index cannot exist; nothing was left behind. Build a non-unique index or fix the data.' },
  KU_ERR_PG_BUILD_IN_PROGRESS: { exit: 'failed', retryable: true, hint: 'Another ku build runs on this table; wait for it (`ku-pg builds`) and retry.' },
  KU_ERR_PG_BUILD_LIMIT: { exit: 'failed', retryable: true, hint: 'The database already runs as many index builds as the agent allows; retry when one finishes.' },
  KU_ERR_PG_EXTENSION_MISSING: { exit: 'failed', retryable: false, hint: 'A required extension (pg_stat_statements or hypopg) is not installed in that database; see deploy/postgres.' },
  KU_ERR_PG_FAILED: { exit: 'failed', retryable: false, hint: 'PostgreSQL returned an error; the message and SQLSTATE in the details say which.' },
  KU_ERR_SLURM_JOB_NOT_FOUND: { exit: 'failed', retryable: false, hint: 'Neither sacct nor scontrol knows this job id on that cluster.' },
  KU_ERR_SLURM_SCRIPT_UNAVAILABLE: { exit: 'failed', retryable: false, hint: 'The original batch script can no longer be retrieved: set AccountingStoreFlags=job_script in slurm.conf (and a longer MinJobAge) so future jobs can be resubmitted.' },
  KU_ERR_SLURM_UNAVAILABLE: { exit: 'failed', retryable: true, hint: 'The Slurm controller or accounting did not answer on that host; check slurmctld and slurmdbd.' },
  KU_ERR_SLURM_FAILED: { exit: 'failed', retryable: false, hint: 'A Slurm command failed; the message has its output.' },
  KU_ERR_K8S_NOT_FOUND: { exit: 'failed', retryable: false, hint: 'No such deployment in that namespace; check the name and --namespace.' },
  KU_ERR_K8S_UNAVAILABLE: { exit: 'failed', retryable: true, hint: 'The agent could not reach the Kubernetes API or was refused by it; check its kubeconfig or service account and its RBAC (deploy/k8s).' },
  KU_ERR_K8S_FAILED: { exit: 'failed', retryable: false, hint: 'The Kubernetes API returned an error; the message says which.' },
  KU_ERR_OP_FAILED: { exit: 'failed', retryable: false, hint: 'The operation ran and failed on the target; the message and details say why.' },
  KU_ERR_INTERNAL: { exit: 'failed', retryable: false, hint: 'An unexpected error inside ku; check the hub and agent logs and report it.' },
} as const satisfies Record<string, ErrorDef>;

/** A ku error code: a key of the registry. */
export type ErrorCode = keyof typeof ERRORS;

/** Wire and JSON shape of an error, as in every result. */
export interface KuErrorBody {
  code: ErrorCode;
  message: string;
  hint: string;
  retryable: boolean;
  details?: unknown;
}

/** Whether a string is a code of the registry. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/**
 * The one error class of ku. Thrown anywhere; converted to the wire only at
 * boundaries (gRPC status mapping, results, CLI exit).
 */
export class KuError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'KuError';
    this.code = code;
    this.details = details;
  }
  get retryable(): boolean {
    return ERRORS[this.code].retryable;
  }
  get hint(): string {
    return ERRORS[this.code].hint;
  }
  toBody(): KuErrorBody {
    const body: KuErrorBody = { code: this.code, message: this.message, hint: this.hint, retryable: this.retryable };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
  /** Rebuild from a wire body; unknown codes become KU_ERR_INTERNAL. */
  static fromBody(body: { code: string; message: string; details?: unknown }): KuError {
    if (isErrorCode(body.code)) return new KuError(body.code, body.message, body.details);
    return new KuError('KU_ERR_INTERNAL', `${body.code}: ${body.message}`, body.details);
  }
}

/** Exit code of a process that ends with this error. */
export function exitCodeOf(code: ErrorCode): number {
  return EXIT[ERRORS[code].exit];
}
