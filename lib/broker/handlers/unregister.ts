/**
 * `unregister` (protocol.md section 4.2): release one name, or all of them.
 */
import type { UnregisterFrame } from '../../protocol/index.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleUnregister(ctx: BrokerContext, session: Session, frame: UnregisterFrame): void {
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (frame.id === undefined) {
    if (session.names.size === 0) {
      session.error('not_registered', 'this connection holds no name', ids); // [SB-4.2-3]
      return;
    }
    for (const name of [...session.names]) ctx.releaseName(session, name, true, ids); // [SB-4.2-2]
    return;
  }
  if (!session.names.has(frame.id)) {
    session.error('not_registered', `this connection does not hold "${frame.id}"`, { id: frame.id, ...ids }); // [SB-4.2-3]
    return;
  }
  ctx.releaseName(session, frame.id, true, ids); // [SB-4.2-1]
}
