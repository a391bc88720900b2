/**
 * `services` (protocol.md section 14): the announced services this identity may `send` to [SB-14-4],
 * with their contracts, how many connections hold each, and the stats the broker measured [SB-14-5].
 * Nothing for a legacy client [SB-2-3].
 */
import type { ServiceInfo, ServicesFrame } from '../../protocol/index.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleServices(ctx: BrokerContext, session: Session, frame: ServicesFrame): void {
  if (session.dialect === 'legacy') return; // [SB-2-3]
  const list: ServiceInfo[] = [];
  for (const name of frame.id === undefined ? ctx.services.names() : [frame.id]) {
    if (!ctx.authorize(session, 'send', name)) continue; // [SB-14-4], [SB-12-3]
    const entry = ctx.names.entry(name);
    if (entry === undefined) continue;
    const info = ctx.services.info(name, entry.shared ? entry.members.length : 1);
    if (info !== undefined) list.push(info);
  }
  list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  session.send({ action: 'services', services: list, ...refOf(session, frame) }); // [SB-14-4]
}
