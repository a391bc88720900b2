/**
 * The checks an HTTP upgrade passes before the WebSocket handshake, in order; each failure answers with
 * its own status and the socket is closed (protocol.md section 2 and section 9).
 */
import type { IncomingMessage } from 'node:http';
import type { Limits } from '../protocol/wire.js';

export interface UpgradeState {
  readonly closing: boolean;
  readonly path: string;
  /** Allowed `Origin` values; undefined allows every origin. */
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly limits: Limits;
  readonly connections: number;
  connectionsFrom(address: string): number;
}

export type Refusal = { status: number; text: string };

export function checkUpgrade(req: IncomingMessage, state: UpgradeState): Refusal | undefined {
  if (state.closing) return { status: 503, text: 'Service Unavailable' }; // [SB-2-6]
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== state.path) return { status: 404, text: 'Not Found' }; // [SB-2-1]
  const origin = req.headers.origin;
  if (origin !== undefined && state.allowedOrigins !== undefined && !state.allowedOrigins.has(origin)) {
    return { status: 403, text: 'Forbidden' }; // [SB-2-5]
  }
  if (state.connections >= state.limits.maxConnections) return { status: 503, text: 'Service Unavailable' }; // [SB-9-2]
  const address = req.socket.remoteAddress ?? '';
  if (state.connectionsFrom(address) >= state.limits.maxConnectionsPerAddress) {
    return { status: 429, text: 'Too Many Requests' }; // [SB-9-2]
  }
  return undefined;
}
