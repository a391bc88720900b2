/**
 * A bare WebSocket opening handshake (RFC 6455 section 4.1) over node:http, for the `handshake` step:
 * it reports the HTTP status and the subprotocol the broker selected, then drops the connection.
 * The `ws` client cannot do this job: it refuses on its own an answer that selects no subprotocol
 * when one was offered, which is exactly the answer a legacy-dialect check needs to see.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

export interface HandshakeResult {
  readonly status: number;
  /** The selected subprotocol, null when the answer selects none. */
  readonly protocol: string | null;
}

export interface HandshakeRequest {
  readonly path?: string;
  readonly protocols: readonly string[];
  readonly origin?: string;
}

export function handshake(url: string, { path, protocols, origin }: HandshakeRequest, within: number): Promise<HandshakeResult> {
  const target = new URL(url);
  if (path !== undefined) {
    const [pathname, search = ''] = path.split('?');
    target.pathname = pathname;
    target.search = search;
  }
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  const headers: Record<string, string> = {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
  };
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(', ');
  if (origin !== undefined) headers.Origin = origin;
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request({
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port === '' ? (secure ? 443 : 80) : Number(target.port),
      path: `${target.pathname}${target.search}`,
      headers,
      timeout: within,
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      const selected = response.headers['sec-websocket-protocol'];
      resolve({ status: response.statusCode ?? 101, protocol: typeof selected === 'string' ? selected : null });
    });
    request.on('response', (response) => {
      response.resume();
      request.destroy();
      resolve({ status: response.statusCode ?? 0, protocol: null });
    });
    request.on('timeout', () => request.destroy(new Error(`no handshake answer within ${within} ms`)));
    request.on('error', reject);
    request.end();
  });
}
