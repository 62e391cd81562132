/**
 * TypeScript shapes of the messages in ku.proto as @grpc/proto-loader decodes
 * them (keepCase, oneofs: the oneof name holds the name of the field set).
 */
export interface KuErrorWire {
  code: string;
  message: string;
  hint: string;
  retryable: boolean;
  details_json: string;
}
export interface JoinRequest { token: string; csr_pem: string; name: string; version: string }
export interface JoinResponse { cert_pem: string; ca_pem: string; name: string; labels: Record<string, string> }
export interface OpOffer { name: string; limits_json: string }
export interface Hello { version: string; ops: OpOffer[]; hostname: string }
export interface Heartbeat { sent_at_ms: number; running: number }
export interface RenewRequest { csr_pem: string }
export interface AgentMessage {
  hello?: Hello;
  heartbeat?: Heartbeat;
  event?: OpEvent;
  renew?: RenewRequest;
  msg?: 'hello' | 'heartbeat' | 'event' | 'renew';
}
export interface Welcome { name: string; labels: Record<string, string>; heartbeat_interval_ms: number; cert_not_after_ms: number }
export interface OpRequest {
  request_id: string;
  op: string;
  params_json: string;
  deadline_ms: number;
  principal: string;
  audit_id: string;
}
export interface OpCancel { request_id: string; reason: string }
export interface RenewResponse { cert_pem: string; error?: KuErrorWire | null }
export interface HubMessage {
  welcome?: Welcome;
  request?: OpRequest;
  cancel?: OpCancel;
  renew?: RenewResponse;
  msg?: 'welcome' | 'request' | 'cancel' | 'renew';
}
export interface Progress { json: string }
export interface Chunk { json: string }
export interface Outcome { ok: boolean; data_json: string; error?: KuErrorWire | null; duration_ms: number }
export interface OpEvent {
  request_id: string;
  progress?: Progress;
  chunk?: Chunk;
  outcome?: Outcome;
  kind?: 'progress' | 'chunk' | 'outcome';
}
export interface RunRequest {
  op: string;
  params_json: string;
  hosts: string[];
  selector: string;
  timeout_ms: number;
  session: string;
  max_concurrency: string;
  max_errors: string;
}
export interface ResultWire { ok: boolean; data_json: string; error?: KuErrorWire | null; duration_ms: number; audit_id: string }
export interface RunEvent {
  host: string;
  op: string;
  progress?: Progress;
  chunk?: Chunk;
  result?: ResultWire;
  plan?: { hosts: string[] };
  kind?: 'progress' | 'chunk' | 'result' | 'plan';
}
export interface AgentInfo {
  name: string;
  labels: Record<string, string>;
  version: string;
  ops: string[];
  connected: boolean;
  connected_since_ms: number;
  last_heartbeat_ms: number;
  hostname: string;
  cert_not_after_ms: number;
}
export interface ListAgentsRequest { selector: string }
export interface ListAgentsResponse { agents: AgentInfo[] }
export interface AuditQueryRequest { limit: number; op: string; principal: string }
export interface AuditQueryResponse { records_json: string[] }
export interface WhoAmIResponse { kind: string; name: string; role: string; not_after_ms: number }
