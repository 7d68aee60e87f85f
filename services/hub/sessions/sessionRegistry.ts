/**
 * Which dashboard client watches which telemetry session (one session per client; a
 * new join replaces the old). Pure bookkeeping, no I/O: the hub's session feed asks it
 * whom to send an update to.
 */
export interface SessionRegistry<C> {
  join(client: C, sessionId: string): void;
  /** Forgets the client (it left, or its socket closed). */
  leave(client: C): void;
  sessionOf(client: C): string | undefined;
  clientsOf(sessionId: string): C[];
  /** Joined clients in all. */
  size(): number;
}

export function createSessionRegistry<C>(): SessionRegistry<C> {
  const sessionOfClient = new Map<C, string>();
  const clientsOfSession = new Map<string, Set<C>>();
  const leave = (client: C): void => {
    const session = sessionOfClient.get(client);
    if (session === undefined) return;
    sessionOfClient.delete(client);
    const set = clientsOfSession.get(session);
    set?.delete(client);
    if (set?.size === 0) clientsOfSession.delete(session);
  };
  return {
    join(client, sessionId) {
      leave(client);
      sessionOfClient.set(client, sessionId);
      let set = clientsOfSession.get(sessionId);
      if (!set) clientsOfSession.set(sessionId, (set = new Set()));
      set.add(client);
    },
    leave,
    sessionOf: (client) => sessionOfClient.get(client),
    clientsOf: (sessionId) => [...(clientsOfSession.get(sessionId) ?? [])],
    size: () => sessionOfClient.size,
  };
}
