/**
 * systemd over D-Bus (dbus-next): unit status from properties, restarts as
 * jobs whose completion is awaited through the JobRemoved signal, failed
 * units. Never `systemctl` text. One bus connection per operation.
 */
import dbus from 'dbus-next';
import { KuError } from '../../proto/errors.js';

const DEST = 'org.freedesktop.systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT = 'org.freedesktop.systemd1.Unit';
const SERVICE = 'org.freedesktop.systemd1.Service';
const PROPS = 'org.freedesktop.DBus.Properties';
const U64_MAX = 2n ** 64n - 1n;

/** Status of a unit, as in the `unitStatus` spec. */
export interface UnitStatus {
  unit: string;
  description: string;
  loadState: string;
  activeState: string;
  subState: string;
  result: string | null;
  mainPid: number | null;
  since: string | null;
  nRestarts: number | null;
  memoryBytes: number | null;
  cpuNsec: number | null;
  unitFileState: string;
  execMainStatus: number | null;
}

/** The side-effect interface systemd ops use; faked in unit tests, real in test/system. */
export interface SystemdBus {
  status(unit: string): Promise<UnitStatus>;
  /** Start a restart job and resolve with its result once systemd removes the job. */
  restart(unit: string, signal: AbortSignal): Promise<{ job: string; result: string }>;
  listFailed(): Promise<{ unit: string; description: string; activeState: string; subState: string }[]>;
  close(): void;
}

type Variant = { value: unknown };
type Props = Record<string, Variant>;

function num(v: unknown): number | null {
  if (typeof v === 'bigint') return v === U64_MAX ? null : Number(v);
  if (typeof v === 'number') return v;
  return null;
}

/** systemd timestamps are microseconds since the epoch; 0 means never. */
function usecToIso(v: unknown): string | null {
  const n = num(v);
  return n ? new Date(n / 1000).toISOString() : null;
}

/** Map D-Bus failures to ku errors. */
export function busError(e: unknown, what: string): KuError {
  if (e instanceof KuError) return e;
  const type = (e as { type?: string }).type ?? '';
  const text = (e as { text?: string; message?: string }).text ?? (e as Error).message ?? String(e);
  if (/AccessDenied|InteractiveAuthorizationRequired|NotAuthorized/.test(type)) return new KuError('KU_ERR_SYSTEMD_DENIED', `${what}: systemd refused (${type}: ${text})`, { dbusError: type });
  if (/NoSuchUnit|LoadFailed/.test(type)) return new KuError('KU_ERR_UNIT_NOT_FOUND', `${what}: ${text}`, { dbusError: type });
  if (/ENOENT|ECONNREFUSED|EACCES|connect/.test(text) || /NoServer|ServiceUnknown/.test(type)) return new KuError('KU_ERR_SYSTEMD_UNAVAILABLE', `${what}: cannot reach systemd on the system bus (${text})`);
  return new KuError('KU_ERR_OP_FAILED', `${what}: ${type ? `${type}: ` : ''}${text}`);
}

/** Connect to the system bus (or the given address) and return the systemd interface. */
export async function connectSystemd(busAddress?: string): Promise<SystemdBus> {
  const bus = busAddress ? dbus.sessionBus({ busAddress }) : dbus.systemBus();
  // A failed connection surfaces as an 'error' event; keep it from crashing the agent.
  const connectError = new Promise<never>((_, reject) => bus.once('error', (e: Error) => reject(busError(e, 'connect'))));
  connectError.catch(() => undefined);
  let managerObj;
  try {
    managerObj = await Promise.race([bus.getProxyObject(DEST, '/org/freedesktop/systemd1'), connectError]);
  } catch (e) {
    bus.disconnect();
    throw busError(e, 'connect');
  }
  bus.on('error', () => undefined);
  const manager = managerObj.getInterface(MANAGER) as unknown as {
    LoadUnit(name: string): Promise<string>;
    RestartUnit(name: string, mode: string): Promise<string>;
    ListUnitsFiltered(states: string[]): Promise<unknown[][]>;
    Subscribe(): Promise<void>;
    on(ev: 'JobRemoved', fn: (id: number, job: string, unit: string, result: string) => void): void;
    off(ev: 'JobRemoved', fn: (id: number, job: string, unit: string, result: string) => void): void;
  };

  async function props(path: string, iface: string): Promise<Props> {
    const obj = await bus.getProxyObject(DEST, path);
    const p = obj.getInterface(PROPS) as unknown as { GetAll(i: string): Promise<Props> };
    return p.GetAll(iface);
  }

  return {
    async status(unit) {
      try {
        const path = await manager.LoadUnit(unit);
        const u = await props(path, UNIT);
        const id = String(u.Id?.value ?? unit);
        const isService = id.endsWith('.service') && u.LoadState?.value === 'loaded';
        const s = isService ? await props(path, SERVICE) : {};
        return {
          unit: id,
          description: String(u.Description?.value ?? ''),
          loadState: String(u.LoadState?.value ?? ''),
          activeState: String(u.ActiveState?.value ?? ''),
          subState: String(u.SubState?.value ?? ''),
          result: isService ? String(s.Result?.value ?? '') : null,
          mainPid: isService ? num(s.MainPID?.value) || null : null,
          since: usecToIso(u.StateChangeTimestamp?.value),
          nRestarts: isService ? num(s.NRestarts?.value) : null,
          memoryBytes: isService ? num(s.MemoryCurrent?.value) : null,
          cpuNsec: isService ? num(s.CPUUsageNSec?.value) : null,
          unitFileState: String(u.UnitFileState?.value ?? ''),
          execMainStatus: isService ? num(s.ExecMainStatus?.value) : null,
        };
      } catch (e) {
        throw busError(e, `status of ${unit}`);
      }
    },

    async restart(unit, signal) {
      // Listen before starting the job: JobRemoved can arrive before RestartUnit returns.
      await manager.Subscribe().catch(() => undefined);
      const removed = new Map<string, string>();
      let waiting: ((r: string) => void) | null = null;
      let jobPath = '';
      const onRemoved = (_id: number, job: string, _unit: string, result: string): void => {
        removed.set(job, result);
        if (job === jobPath && waiting) waiting(result);
      };
      manager.on('JobRemoved', onRemoved);
      try {
        jobPath = await manager.RestartUnit(unit, 'replace');
        const early = removed.get(jobPath);
        const result =
          early ??
          (await new Promise<string>((resolve, reject) => {
            waiting = resolve;
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }));
        return { job: jobPath, result };
      } catch (e) {
        throw busError(e, `restart of ${unit}`);
      } finally {
        manager.off('JobRemoved', onRemoved);
      }
    },

    async listFailed() {
      try {
        const rows = await manager.ListUnitsFiltered(['failed']);
        return rows.map((r) => ({ unit: String(r[0]), description: String(r[1]), activeState: String(r[3]), subState: String(r[4]) }));
      } catch (e) {
        throw busError(e, 'list of failed units');
      }
    },

    close() {
      bus.disconnect();
    },
  };
}
