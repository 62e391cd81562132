/**
 * How systemd ops reach systemd: a factory the ops call, so unit tests can
 * substitute a fake bus while test/system drives the real one.
 */
import { KuError } from '../../proto/errors.js';
import { connectSystemd, type SystemdBus, type UnitStatus } from './bus.js';

export type BusFactory = (busAddress?: string) => Promise<SystemdBus>;

let factory: BusFactory = connectSystemd;

/** Connect to systemd (the real bus unless a test swapped the factory). */
export function openBus(busAddress?: string): Promise<SystemdBus> {
  return factory(busAddress);
}

/** For unit tests only: replace the bus factory; returns a function that restores it. */
export function setBusFactory(f: BusFactory): () => void {
  const prev = factory;
  factory = f;
  return () => {
    factory = prev;
  };
}

/** Run `fn` with a bus connection that is always closed afterwards. */
export async function withBus<T>(busAddress: string | undefined, fn: (bus: SystemdBus) => Promise<T>): Promise<T> {
  const bus = await openBus(busAddress);
  try {
    return await fn(bus);
  } finally {
    bus.close();
  }
}

/** Status of a unit that must exist: `KU_ERR_UNIT_NOT_FOUND` when systemd has no such unit. */
export async function existingUnit(bus: SystemdBus, unit: string): Promise<UnitStatus> {
  const status = await bus.status(unit);
  if (status.loadState === 'not-found') throw new KuError('KU_ERR_UNIT_NOT_FOUND', `no unit ${unit} on this host`, { unit });
  return status;
}
