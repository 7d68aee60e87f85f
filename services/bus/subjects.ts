import { encodeToken } from './tokens.ts';

/** The connection kinds of DESIGN.md; the second token of every `conn.>` subject. */
export const KINDS = ['device', 'telemetry', 'child', 'rpc', 'link', 'client'] as const;
export type Kind = (typeof KINDS)[number];

export const STREAMS = {
  /** Every transition record of every actor: `conn.<kind>.<token>.<state>`. */
  conn: 'CONN',
  /** Accepted device commands and the gateway's rejections of undeliverable ones. */
  commands: 'COMMANDS',
  /** Telemetry publishers' setup, data and gap messages: `telemetry.<token(session)>.<what>` (issue 4). */
  telemetry: 'TELEMETRY',
} as const;

export const BUCKETS = {
  devices: 'devices',
  deviceState: 'device_state',
  flows: 'flows',
  actors: 'actors',
  /** The nodes each ESP32 link's radio knows, with their public keys (issue 6). */
  meshNodes: 'mesh_nodes',
  /** The status of each supervised child process (issue 3). */
  children: 'children',
  /** Per telemetry session: latest setup, telemetry, gap and publisher state (issue 4). */
  sessions: 'sessions',
  /** Per RPC poller: its status (key token(poller)) and the latest good result of each method (key `token(poller).token(method)`) (issue 5). */
  rpcCache: 'rpc_cache',
  /** Per device: the incarnations that an end record (gateway restarted, lease expired) ended (issue 8). */
  deviceEnds: 'device_ends',
  /** Per gateway name: its liveness lease, renewed by the gateway itself (issue 8; not a projection). */
  gatewayLeases: 'gateway_leases',
  /** Key `leader`: the active projector's lease; standbys take over when it stops advancing (issue 8; not a projection). */
  projectorLeader: 'projector_leader',
} as const;

/** What a telemetry publisher sends: `telemetry.<token(session)>.<what>`. */
export const TELEMETRY_MESSAGES = ['setup', 'data', 'gap'] as const;
export type TelemetryMessageKind = (typeof TELEMETRY_MESSAGES)[number];

/** `state` is the top-level state name of the record's `to` path. */
export function transitionSubject(kind: Kind, id: string, toPath: string): string {
  const top = toPath.split(/[.,]/)[0] || 'unknown';
  return `conn.${kind}.${encodeToken(id)}.${top}`;
}

export const subjects = {
  allTransitions: 'conn.>',
  /** NATS request intake for device commands (answered by the hub), same body as HTTP. */
  commandRequest: (deviceId: string) => `cmd.device.${encodeToken(deviceId)}`,
  commandRequestWildcard: 'cmd.device.*',
  /** Accepted commands before routing (issue 8): no gateway consumes these any more; the projector still reads them. */
  acceptedCommand: (deviceId: string) => `commands.device.${encodeToken(deviceId)}`,
  acceptedCommands: 'commands.device.>',
  /** Accepted commands routed to the gateway that owns the device: `commands.device.<token(gateway)>.<token(device)>` (issue 8). */
  routedCommand: (gateway: string, deviceId: string) => `commands.device.${encodeToken(gateway)}.${encodeToken(deviceId)}`,
  /** What one gateway's durable consumer filters on. */
  gatewayCommands: (gateway: string) => `commands.device.${encodeToken(gateway)}.>`,
  /** Start/stop requests for a supervised child (hub → its child supervisor): `{"action"}`. */
  childCommand: (name: string) => `cmd.child.${encodeToken(name)}`,
  childCommands: 'cmd.child.*',
  /** A gateway could not deliver an accepted command (device gone): the flow fails. */
  rejectedCommand: (deviceId: string) => `commands.rejected.${encodeToken(deviceId)}`,
  /** Projector → hub: projected changes, rebroadcast to dashboards. */
  broadcast: (topic: BroadcastTopic) => `broadcast.${topic}`,
  allBroadcasts: 'broadcast.>',
  /** NATS request answered by the ESP32 link actor itself, in every state (issue 6). */
  linkPing: (linkId: string) => `link.${encodeToken(linkId)}.ping`,
  /** Publisher → stream TELEMETRY (issue 4). */
  telemetry: (sessionId: string, what: TelemetryMessageKind) => `telemetry.${encodeToken(sessionId)}.${what}`,
  allTelemetry: 'telemetry.>',
  /** Projector → hub: one validated session update (not coalesced), `SessionNotice`. */
  sessionNotice: (sessionId: string) => `broadcast.session.${encodeToken(sessionId)}`,
  allSessionNotices: 'broadcast.session.>',
  /** Projector: a telemetry message it rejected, as an ErrorEvent. */
  telemetryError: 'broadcast.error.telemetry',
} as const;

export type BroadcastTopic = 'flow' | 'device' | 'device_state' | 'actor' | 'rpc';
