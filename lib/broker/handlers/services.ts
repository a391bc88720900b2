/**
 * `services` (protocol.md section 14): the announced services this identity may `send` to [SB-14-4],
 * with their contracts, how many connections hold each, and the stats the broker measured [SB-14-5].
 * Nothing for a legacy client [SB-2-3]. In a cluster, the services of every node, with what every node
 * measured ([SB-16-7]).
 */
import type { ServiceInfo, ServicesFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleServices(ctx: BrokerContext, session: Session, frame: ServicesFrame): Promise<void> | void {
  if (session.dialect === 'legacy') return; // [SB-2-3]
  const ids = refOf(session, frame);
  const list: ServiceInfo[] = [];
  const reply = () => {
    list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    session.send({ action: 'services', services: list, ...ids }); // [SB-14-4]
  };
  if (ctx.cluster !== undefined) {
    return ctx.cluster.services.list(frame.id === undefined ? undefined : [frame.id]).then(
      (found) => {
        for (const [name, service] of found) {
          if (!ctx.authorize(session, 'send', name)) continue; // [SB-14-4], [SB-12-3]
          const info = ctx.services.info(name, service.members, service.elsewhere);
          if (info !== undefined) list.push(info);
        }
        reply();
      },
      () => session.error('unavailable', 'the cluster cannot be reached from this broker node: try again', ids), // [SB-16-2]
    );
  }
  for (const name of frame.id === undefined ? ctx.services.names() : [frame.id]) {
    if (!ctx.authorize(session, 'send', name)) continue; // [SB-14-4], [SB-12-3]
    const entry = ctx.names.entry(name);
    if (entry === undefined) continue;
    const info = ctx.services.info(name, entry.shared ? entry.members.length : 1);
    if (info !== undefined) list.push(info);
  }
  reply();
}
