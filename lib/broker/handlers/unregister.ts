/**
 * `unregister` (protocol.md section 4.2): release one name, or all of them.
 */
import type { UnregisterFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleUnregister(ctx: BrokerContext, session: Session, frame: UnregisterFrame): Promise<void> | void {
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (frame.id !== undefined && !session.names.has(frame.id)) {
    session.error('not_registered', `this connection does not hold "${frame.id}"`, { id: frame.id, ...ids }); // [SB-4.2-3]
    return;
  }
  if (session.names.size === 0) {
    session.error('not_registered', 'this connection holds no name', ids); // [SB-4.2-3]
    return;
  }
  const names = frame.id === undefined ? [...session.names] : [frame.id]; // [SB-4.2-2], [SB-4.2-1]
  const release = () => {
    for (const name of names) ctx.releaseName(session, name, true, ids);
  };
  // [SB-16-2] In a cluster, the names are free in Redis before `unregistered` says so; and a subscriber
  // left without a name is unreachable from every node by then ([SB-16-5], [SB-4.7-4]).
  const cluster = ctx.cluster;
  if (cluster !== undefined) {
    const nameless = names.length === session.names.size ? cluster.named(session, '') : undefined;
    return Promise.all([...names.map((name) => cluster.release(session, name)), nameless]).then(release);
  }
  release();
}
