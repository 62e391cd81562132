import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { ERRORS, KuError, isErrorCode, type KuErrorBody } from '../proto/errors.js';
import type { KuErrorWire } from '../proto/wire.js';

/** Largest message either side accepts: bounded so a peer cannot make us buffer without limit. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Channel and server options shared by every ku gRPC endpoint. */
export const GRPC_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.enable_retries': 0,
};

/**
 * Options for ku clients of the hub. The hub is verified by its CA and its
 * ku://hub URI (checkHubIdentity), not by host name, so the TLS server name is
 * a fixed DNS-style name rather than the (often numeric) address.
 */
export const CLIENT_OPTIONS: grpc.ChannelOptions = { ...GRPC_OPTIONS, 'grpc.ssl_target_name_override': 'ku-hub' };

/** The loaded `ku.v1` package: service constructors. */
export interface KuPackage {
  Enroll: grpc.ServiceClientConstructor;
  AgentLink: grpc.ServiceClientConstructor;
  Control: grpc.ServiceClientConstructor;
}

let cached: KuPackage | undefined;

/** The contract's text, embedded by the single-file build (scripts/package.mjs). */
declare const __KU_PROTO__: string | undefined;

function protoText(): string {
  if (typeof __KU_PROTO__ === 'string') return __KU_PROTO__;
  return readFileSync(protoFile(), 'utf8');
}

function protoFile(): string {
  // Source tree: runtime/../proto; build: dist/runtime/../proto (copied by the build).
  const p = fileURLToPath(new URL('../proto/ku.proto', import.meta.url));
  if (!existsSync(p)) throw new Error(`ku.proto not found at ${p}`);
  return p;
}

/** Load ku.proto once per process. */
export function kuPackage(): KuPackage {
  if (cached) return cached;
  const options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };
  const root = protobuf.parse(protoText(), { keepCase: true }).root;
  const def = protoLoader.fromJSON(root.toJSON(), options);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { ku: { v1: KuPackage } };
  cached = pkg.ku.v1;
  return cached;
}

const KU_ERROR_KEY = 'ku-error';

/** gRPC status used on the wire for a ku error class. */
function statusFor(err: KuError): grpc.status {
  switch (ERRORS[err.code].exit) {
    case 'input':
      return grpc.status.INVALID_ARGUMENT;
    case 'denied':
      return err.code.startsWith('KU_ERR_AUTH_') || err.code.startsWith('KU_ERR_JOIN_')
        ? grpc.status.UNAUTHENTICATED
        : grpc.status.PERMISSION_DENIED;
    case 'unavailable':
      return grpc.status.UNAVAILABLE;
    default:
      return grpc.status.INTERNAL;
  }
}

/** Server side of the one conversion pair: a ku error as a gRPC status with the body in metadata. */
export function toGrpcError(err: KuError): Partial<grpc.StatusObject> {
  const md = new grpc.Metadata();
  md.set(KU_ERROR_KEY, JSON.stringify(err.toBody()));
  return { code: statusFor(err), details: `${err.code}: ${err.message}`, metadata: md };
}

/** Client side of the pair: any gRPC error back to a ku error. */
export function fromGrpcError(e: unknown): KuError {
  if (e instanceof KuError) return e;
  const se = e as Partial<grpc.ServiceError>;
  const raw = se.metadata?.get(KU_ERROR_KEY)?.[0];
  if (typeof raw === 'string') {
    try {
      return KuError.fromBody(JSON.parse(raw) as KuErrorBody);
    } catch {
      /* fall through */
    }
  }
  switch (se.code) {
    case grpc.status.UNAVAILABLE:
      return new KuError('KU_ERR_HUB_UNREACHABLE', se.details || 'hub unreachable');
    case grpc.status.DEADLINE_EXCEEDED:
      return new KuError('KU_ERR_TIMEOUT', se.details || 'deadline exceeded');
    case grpc.status.CANCELLED:
      return new KuError('KU_ERR_CANCELLED', se.details || 'cancelled');
    case grpc.status.RESOURCE_EXHAUSTED:
      return new KuError('KU_ERR_PAYLOAD_TOO_LARGE', se.details || 'message too large');
    default:
      return new KuError('KU_ERR_INTERNAL', se.details || String((e as Error)?.message ?? e));
  }
}

/** A ku error in its proto form. */
export function errorToWire(err: KuError): KuErrorWire {
  return {
    code: err.code,
    message: err.message,
    hint: err.hint,
    retryable: err.retryable,
    details_json: err.details === undefined ? '' : JSON.stringify(err.details),
  };
}

/** A proto error back to a ku error body (hint and retryable re-derived from the registry). */
export function errorFromWire(w: KuErrorWire): KuErrorBody {
  const code = isErrorCode(w.code) ? w.code : 'KU_ERR_INTERNAL';
  const body: KuErrorBody = {
    code,
    message: code === w.code ? w.message : `${w.code}: ${w.message}`,
    hint: ERRORS[code].hint,
    retryable: ERRORS[code].retryable,
  };
  if (w.details_json) {
    try {
      body.details = JSON.parse(w.details_json);
    } catch {
      body.details = w.details_json;
    }
  }
  return body;
}
