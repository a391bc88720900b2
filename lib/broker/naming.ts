/**
 * The life of a name held by a connection (protocol.md sections 4.1, 4.2 and 6.3): taking it (and
 * receiving what waited in its mailbox) and releasing it (and opening a mailbox when a durable name is
 * left without holder). The broker's takeName and releaseName delegate here.
 */
import type { BrokerContext } from './context.js';
import type { QueuedItem } from './mailbox.js';
import { writeDelivery, writeQueued } from './route.js';
import type { Session } from './session.js';

/**
 * Take `name` for `session`, then write what waited in its mailbox, in order ([SB-6.3-1]): `queued`, when
 * a cluster node took it from Redis ahead (handlers/register.ts), or what the store gives at once.
 */
export function takeName(
  ctx: BrokerContext,
  session: Session,
  name: string,
  shared: boolean,
  ids: { ref?: string } = {},
  queued?: readonly QueuedItem[],
): void {
  ctx.names.take(name, session, shared);
  session.names.add(name);
  // [SB-6.3-1] A durable store remembers which durable names are held, for a crash. An exclusive name is
  // durable as its new holder says, also when it took the name over from a durable one.
  const durable = session.durableNames.has(name) || ctx.durableByPattern(name);
  if (durable || !shared) ctx.mailboxes.held(name, durable);
  session.send({ action: 'registered', id: name, ...ids });
  writeMailbox(ctx, session, name, queued ?? takenAtOnce(ctx, name));
}

/** What waited in `name`'s mailbox, from a store that answers at once (memory, file). */
function takenAtOnce(ctx: BrokerContext, name: string): readonly QueuedItem[] {
  const taken = ctx.mailboxes.take(name);
  if (taken instanceof Promise) throw new Error('a mailbox store that answers later is taken from ahead of takeName');
  return taken;
}

/** How often, and how far apart, a holder's node asks again for its mailbox while the store does not answer. */
const TAKE_TRIES = 10;
const TAKE_RETRY_MS = 500;

/**
 * Write to `session`, which holds `name` already, what waits in the name's mailbox ([SB-6.3-1]): a cluster
 * node whose claim Redis lost, or whose take it did not answer, asks again.
 */
export function takeMailbox(ctx: BrokerContext, session: Session, name: string, tries = TAKE_TRIES): Promise<void> {
  return Promise.resolve(ctx.mailboxes.take(name)).then(
    (items) => {
      if (session.names.has(name)) writeMailbox(ctx, session, name, items);
    },
    () => {
      // Redis did not answer: what waits stays there, asked for again while the name is held here.
      if (tries > 1) setTimeout(() => session.names.has(name) && void takeMailbox(ctx, session, name, tries - 1), TAKE_RETRY_MS).unref();
    },
  );
}

function writeMailbox(ctx: BrokerContext, session: Session, name: string, items: readonly QueuedItem[]): void {
  if (items.length === 0) return;
  const now = Date.now();
  for (const item of items) {
    const { payload, request } = item;
    if (request === undefined) writeQueued(session, payload, item.id!);
    else if (request.deadline <= now) continue; // its request has ended, or is ending, where it is kept
    else if (item.node !== undefined) ctx.cluster!.mailboxes.writeElsewhere(session, name, item); // [SB-16-6]
    else {
      const sender = ctx.sessionById(item.senderId);
      const delivery = sender && ctx.pending.attach(sender, request.ack, item.slot!, { peer: session, name });
      if (delivery !== undefined) writeDelivery(delivery);
    }
  }
  // A durable store marks them done once they have left for the socket, or keeps them ([SB-6.3-4]).
  if (ctx.mailboxes.durable) session.whenFlushed((written) => ctx.mailboxes.settle(name, items, written));
}

/**
 * Release `name`; returns false when `session` did not hold it. A durable name that lost its last holder
 * otherwise than by unregister keeps a mailbox ([SB-6.3-1]).
 */
export function releaseName(
  ctx: BrokerContext,
  session: Session,
  name: string,
  explicit: boolean,
  durable: boolean,
  ids: { ref?: string } = {},
): boolean {
  if (!session.names.delete(name)) return false;
  ctx.names.release(name, session);
  const unheld = ctx.names.entry(name) === undefined;
  // [SB-14-1] In a cluster, once Redis says nobody holds the name on any node (cluster/node.ts).
  if (ctx.cluster === undefined && unheld) ctx.services.drop(name);
  ctx.pending.nameReleased(session, name);
  const wasDurable = session.durableNames.delete(name) || durable;
  // Whatever the last holder's flags: a pool whose durable member left first was held durable until now.
  if (unheld) ctx.mailboxes.held(name, false);
  const keepsMailbox = wasDurable && !explicit && unheld;
  // [SB-16-2] Before `unregistered`: the other nodes hear of it ahead of anything the client does next. In
  // a cluster the mailbox is in Redis, opened there unless another node's connection holds the name [SB-16-6].
  if (ctx.cluster !== undefined) ctx.cluster.released(session, name, keepsMailbox);
  else if (keepsMailbox) void ctx.mailboxes.open(name, Date.now());
  session.send({ action: 'unregistered', id: name, ...ids });
  return true;
}
