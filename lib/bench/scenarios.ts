/**
 * The benchmark's scenarios (issue 7, item 3) and the systems it can drive (item 2): plain data, so that
 * the command line, the orchestrator and the tables agree on names and defaults.
 */

/** A load scenario: N requesters keep K requests each in flight against M responders. */
export interface TrafficScenario {
  readonly kind: 'traffic';
  readonly id: string;
  readonly title: string;
  /** Size of the request message as JSON, in bytes; every answer echoes it. */
  readonly payloadBytes: number;
  /** Requests in flight per requester. */
  readonly inFlight: number;
  /** Destinations per request: 1, or 2. */
  readonly dests: 1 | 2;
  /** With two destinations: the first answer wins, or the request gathers every answer. */
  readonly gather: boolean;
}

/** Idle registered connections: broker memory per connection. */
export interface IdleScenario {
  readonly kind: 'idle';
  readonly id: string;
  readonly title: string;
  readonly connections: number;
}

export type Scenario = TrafficScenario | IdleScenario;

/** What a request's message looks like: see makePayload in load/main.ts. */
export type PayloadShape = 'records' | 'string';

export const SCENARIO_IDS = ['small', 'large', 'serial', 'serial-large', 'two-dest', 'gather', 'idle'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface ScenarioOverrides {
  payloadBytes?: number;
  inFlight?: number;
  idleConnections: number;
}

/** The scenarios by id, with command-line overrides applied to the traffic ones. */
export function scenario(id: ScenarioId, overrides: ScenarioOverrides): Scenario {
  const traffic = (payloadBytes: number, inFlight: number, dests: 1 | 2, gather = false): TrafficScenario => {
    const bytes = overrides.payloadBytes ?? payloadBytes;
    const k = overrides.inFlight ?? inFlight;
    const to = dests === 1 ? 'one destination' : gather ? 'two destinations, every answer gathered' : 'two destinations, first answer wins';
    return { kind: 'traffic', id, title: `${formatBytes(bytes)}, ${k} in flight per requester, ${to}`, payloadBytes: bytes, inFlight: k, dests, gather };
  };
  switch (id) {
    case 'small':
      return traffic(64, 32, 1);
    case 'large':
      return traffic(4096, 32, 1);
    case 'serial':
      return traffic(64, 1, 1);
    case 'serial-large':
      return traffic(4096, 1, 1);
    case 'two-dest':
      return traffic(64, 32, 2);
    case 'gather':
      return traffic(64, 32, 2, true);
    case 'idle':
      return {
        kind: 'idle',
        id,
        title: `${overrides.idleConnections.toLocaleString('en-US')} idle registered connections`,
        connections: overrides.idleConnections,
      };
    default: {
      const unreachable: never = id;
      throw new Error(`unknown scenario ${String(unreachable)}`);
    }
  }
}

export const SYSTEM_IDS = [
  'relay-inplace',
  'relay-prefix',
  'relay-json',
  'switchboard',
  'switchboard-raw',
  'wsmsgbroker',
  'nats',
  'socketio',
  'switchboard-monitored',
  'switchboard-dashboard',
] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

/** What a run compares by default: `switchboard-monitored` and `switchboard-dashboard` only when asked for (`--systems`). */
export const DEFAULT_SYSTEMS: readonly SystemId[] = SYSTEM_IDS.filter((id) => id !== 'switchboard-monitored' && id !== 'switchboard-dashboard');

/** Why a system cannot run a scenario (undefined: it can). */
export function cannotRun(system: SystemId, scenario: Scenario): string | undefined {
  if (scenario.kind !== 'traffic' || !scenario.gather) return undefined;
  if (system === 'wsmsgbroker') return 'wsmsgbroker has no gather: its server forwards the first answer only';
  return undefined;
}

export const SYSTEM_TITLES: Record<SystemId, string> = {
  'relay-inplace': 'minimal ws relay: routing field overwritten in place, the received buffer forwarded, never parsed or copied (gather: as relay-prefix)',
  'relay-prefix': 'minimal ws relay: routing prefix, body never parsed (gather: the requester waits for both answers)',
  'relay-json': 'minimal ws relay: JSON.parse + JSON.stringify per frame (gather: as relay-prefix)',
  switchboard: 'switchboard, driven by its client library (lib/client)',
  'switchboard-raw': 'switchboard, driven by raw ws clients (extended dialect)',
  wsmsgbroker: 'wsmsgbroker 1.7.2, its server and client (client offers permessage-deflate)',
  nats: 'nats-server (Go) with the nats npm client (gather: requestMany)',
  socketio: 'socket.io 4 relay (emitWithAck to each destination, the first answer or all of them acknowledged), its server and client, WebSocket transport only',
  'switchboard-monitored': 'switchboard with its monitor listener on and /metrics scraped every second, driven by lib/client',
  'switchboard-dashboard': 'switchboard with the dashboard open: its monitor on and /v1/stream read (a snapshot a second), driven by lib/client',
};

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
