/**
 * `announce` (protocol.md section 14): keep the contract of a name this connection holds. The members of
 * a pool announce one version: another version while other members hold the name is refused with
 * `name_conflict` and changes nothing [SB-14-1]. A legacy client never gets an answer [SB-2-3], so its
 * announce changes nothing either.
 */
import type { AnnounceFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleAnnounce(ctx: BrokerContext, session: Session, frame: AnnounceFrame): Promise<void> | void {
  if (session.dialect === 'legacy') return; // [SB-2-3]
  const name = frame.id;
  const ids = refOf(session, frame);
  if (!session.names.has(name)) {
    session.error('not_registered', `this connection does not hold "${name}"`, { id: name, ...ids }); // [SB-14-1]
    return;
  }
  if (ctx.cluster !== undefined) {
    // [SB-16-7] The contract is the cluster's: the pool's members on every node announce one version.
    return ctx.cluster.services.announce(frame).then(
      (kept) => {
        if (kept === undefined) session.send({ action: 'announced', id: name, ...ids }); // [SB-14-1]
        else conflict(session, name, kept, ids);
      },
      () => session.error('unavailable', 'the cluster cannot be reached from this broker node: try again', { id: name, ...ids }), // [SB-16-2]
    );
  }
  const entry = ctx.names.entry(name);
  const version = ctx.services.version(name);
  if (entry?.shared === true && entry.members.length > 1 && version !== undefined && version !== frame.version) {
    conflict(session, name, version, ids);
    return;
  }
  ctx.services.announce(frame);
  session.send({ action: 'announced', id: name, ...ids }); // [SB-14-1]
}

function conflict(session: Session, name: string, version: string, ids: { ref?: string }): void {
  const message = `the pool "${name}" serves version ${version}; its members announce one version`;
  session.error('name_conflict', message, { id: name, ...ids }); // [SB-14-1]
}
