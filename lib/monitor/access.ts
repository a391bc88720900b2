/**
 * Who may use the monitor listener (lib/monitor/README.md, "Access"). With an auth policy, a request
 * presents `Authorization: Bearer <token>`; the token's identity needs the `monitor` permission with
 * `read` (GET) or `write` (POST), judged by the policy's own hooks, which may fail without letting anyone
 * in (lib/broker/hooks.ts). Without a policy, only loopback clients are served: an open broker on a
 * network must not hand its connection list, or a kick, to that network.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv4 } from 'node:net';
import { authenticate, authorize } from '../broker/hooks.js';
import type { MonitoredBroker } from './introspect.js';

export type Access = 'read' | 'write';

/** Allowed, with the caller's identity (null for a loopback caller of a broker without an auth policy), or refused. */
export type Verdict = { allowed: true; identity: string | null } | { allowed: false; status: 401 | 403; error: string; message: string };

const LOOPBACK: Verdict = { allowed: true, identity: null };

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (`::ffff:127.0.0.1`). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1';
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
  return match === null ? undefined : match[1];
}

export async function checkAccess(broker: MonitoredBroker, req: IncomingMessage, access: Access): Promise<Verdict> {
  const remoteAddress = req.socket.remoteAddress;
  const policy = broker.auth;
  if (policy === undefined) {
    if (isLoopback(remoteAddress)) return LOOPBACK;
    const message = 'the broker has no auth policy: the monitor serves loopback clients only';
    return { allowed: false, status: 403, error: 'forbidden', message };
  }
  const token = bearerToken(req);
  if (token === undefined) {
    return { allowed: false, status: 401, error: 'unauthorized', message: 'send Authorization: Bearer <token>' };
  }
  const authenticated = await authenticate(policy, token, remoteAddress ?? '', broker.limits.authTimeoutMs);
  if (authenticated.identity === undefined) {
    if ('fault' in authenticated && authenticated.fault !== undefined) broker.fault(authenticated.fault);
    return { allowed: false, status: 401, error: 'unauthorized', message: 'the token is not valid' };
  }
  const { allowed, fault } = authorize(policy, authenticated.identity, 'monitor', access);
  if (fault !== undefined) broker.fault(fault);
  if (allowed) return { allowed: true, identity: authenticated.identity.id };
  const message = `identity "${authenticated.identity.id}" lacks the monitor permission "${access}"`;
  return { allowed: false, status: 403, error: 'forbidden', message };
}
