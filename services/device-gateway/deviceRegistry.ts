import type { DeviceActor } from './deviceConnection.ts';

/** The device actors this gateway hosts, by deviceId. */
export interface DeviceRegistry {
  get(deviceId: string): DeviceActor | undefined;
  /** Registers `actor`; replace the previous connection of its device first (`get(id).send(device.replaced)`). */
  add(actor: DeviceActor): void;
  /** Removes `actor` if it is still the registered one for its id. */
  remove(actor: DeviceActor): void;
  all(): DeviceActor[];
  size(): number;
}

export function createDeviceRegistry(): DeviceRegistry {
  const byId = new Map<string, DeviceActor>();
  return {
    get: (id) => byId.get(id),
    add(actor) {
      byId.set(actor.id, actor);
    },
    remove(actor) {
      if (byId.get(actor.id) === actor) byId.delete(actor.id);
    },
    all: () => [...byId.values()],
    size: () => byId.size,
  };
}
