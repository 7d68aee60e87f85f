import type { NatsConnection } from '@nats-io/transport-node';
import { projectorHeartbeatSchema } from '../bus/schemas/leases.ts';
import { parseJsonWith } from '../bus/schemas/parse.ts';
import { PROJECTOR_HEARTBEAT_SUBJECT } from '../projector/broadcasts.ts';

export interface ProjectorLiveness {
  /** Why the projector is not live, or null when it is. */
  problem(): string | null;
  stop(): void;
}

/** The active projector heartbeats every second; it is live while such a beat is at most `staleMs` old. */
export function watchProjectorLiveness(nc: NatsConnection, staleMs = 5_000): ProjectorLiveness {
  let lastBeat = 0;
  const sub = nc.subscribe(PROJECTOR_HEARTBEAT_SUBJECT, {
    callback: (_err, msg) => {
      // a standby projector beats too (docs/scale-out.md): only an active one makes the projector live
      const beat = parseJsonWith(projectorHeartbeatSchema, 'projector heartbeat', msg.data);
      if (beat.ok && beat.value.role !== 'standby') lastBeat = Date.now();
    },
  });
  return {
    problem: () => {
      if (lastBeat === 0) return 'no projector heartbeat received yet';
      const age = Date.now() - lastBeat;
      return age > staleMs ? `projector silent for ${Math.round(age / 1000)} s` : null;
    },
    stop: () => sub.unsubscribe(),
  };
}
