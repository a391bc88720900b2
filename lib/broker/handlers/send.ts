/**
 * `send` (protocol.md sections 4.3 and 6): resolve the destinations (an exclusive holder, one member of
 * a pool, or the mailbox of an offline durable name), refuse what breaks a rule or a limit, report
 * delivery when asked (`ref`), then route. Every refusal happens before the first delivery, so a send is
 * delivered whole or not at all.
 */
import { messageSuffix, traceSuffix, type SendFrame } from '../../protocol/wire.js';
import { admitRequest, forwardable, idsOf, senderName } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Holders } from '../cluster/node.js';
import type { Enqueued, QueuedFor, QueuedItem } from '../mailbox.js';
import type { Target } from '../pending.js';
import { route, type Plan, type RouteOptions } from '../route.js';
import type { Session } from '../session.js';

export function handleSend(ctx: BrokerContext, session: Session, frame: SendFrame, raw: string | undefined, raced = false): Promise<void> | void {
  const ids = idsOf(frame);
  if (frame.stream === true && frame.gather === true) {
    session.error('bad_frame', 'stream: a gather request cannot stream (protocol.md section 13)', { ...ids, path: '/stream' }); // [SB-13-1]
    return;
  }
  const from = senderName(session, ids, 'sending'); // [SB-4.3-1]
  if (from === undefined) return;
  const dest = typeof frame.dest === 'string' ? [frame.dest] : frame.dest;
  if (dest.length > ctx.limits.maxDestinations) {
    const message = `a send may name at most ${ctx.limits.maxDestinations} destinations`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxDestinations' }); // [SB-4.3-4]
    return;
  }
  const denied = dest.find((name) => !ctx.authorize(session, 'send', name));
  if (denied !== undefined) {
    session.error('forbidden', `this identity may not send to "${denied}"`, { ...ids, id: denied }); // [SB-4.5-3]
    return;
  }
  const timeoutMs = frame.timeout ?? ctx.limits.defaultTimeoutMs;
  if (frame.ack !== undefined && !admitRequest(ctx, session, frame.ack, timeoutMs, ids)) return;
  const body = forwardable(session, frame.message, raw, ids); // [SB-4.3-5]
  if (body === undefined) return;
  // A legacy sender cannot hear `gathered` [SB-2-3]: its gather is a first-answer request ([SB-6.2-2]).
  const gather = frame.gather === true && session.dialect === 'extended';
  const cluster = ctx.cluster;
  // [SB-16-6] A mailbox taken since the lookup: the send is looked up again, once.
  const again = raced || cluster === undefined ? undefined : () => handleSend(ctx, session, frame, raw, true);
  const checked: Checked = { frame, ids, dest, from, body, timeoutMs, gather, again };
  if (cluster !== undefined) {
    // [SB-16-2] Names held on no connection of this node: their holders elsewhere, cached or looked up.
    // A pool's turn is taken in the cluster, among the members of every node ([SB-6.4-1]).
    let remote: Map<string, Holders> | undefined;
    let unknown: string[] | undefined;
    for (const name of dest) {
      const entry = ctx.names.entry(name);
      if (entry?.shared === true) {
        (unknown ??= []).push(name);
        continue;
      }
      if (entry !== undefined) continue;
      const holder = cluster.cached(name);
      if (holder !== undefined) (remote ??= new Map()).set(name, { pool: false, members: [holder] });
      else (unknown ??= []).push(name);
    }
    if (unknown === undefined) return deliver(ctx, session, checked, remote);
    return cluster.lookup(unknown).then(
      (found) => {
        if (remote !== undefined) for (const [name, holder] of remote) found.set(name, holder);
        if (session.accepting) return deliver(ctx, session, checked, found);
      },
      () => unavailable(session, ids),
    );
  }
  return deliver(ctx, session, checked, undefined);
}

function unavailable(session: Session, ids: ReturnType<typeof idsOf>): void {
  session.error('unavailable', 'the cluster cannot be reached from this broker node: nothing was sent', ids); // [SB-16-2]
}

/** What handleSend checked, for the delivery that may have to wait for the cluster. */
interface Checked {
  readonly frame: SendFrame;
  readonly ids: ReturnType<typeof idsOf>;
  readonly dest: readonly string[];
  readonly from: string;
  readonly body: string;
  readonly timeoutMs: number;
  readonly gather: boolean;
  readonly again: (() => Promise<void> | void) | undefined;
}

function deliver(ctx: BrokerContext, session: Session, checked: Checked, remote: ReadonlyMap<string, Holders> | undefined): Promise<void> | void {
  const { frame, ids, dest, from, body, timeoutMs, gather } = checked;
  const resolved = resolve(ctx, dest, frame.ack !== undefined, body, remote);
  if ('refused' in resolved) return refuse(ctx, session, resolved, ids);
  const payload = {
    body,
    from,
    suffix: frame.event === undefined ? '' : messageSuffix({ event: frame.event }),
    trace: frame.trace && traceSuffix(frame.trace), // [SB-15-1]
  };
  // [SB-6.3-3] A request that waits in a mailbox ends at the earlier of its deadline and the mailbox's age.
  const deadlineMs = resolved.queued.length > 0 ? Math.min(timeoutMs, ctx.limits.maxMailboxAgeMs) : timeoutMs;
  const window = frame.stream === true ? ctx.limits.streamWindow : 0; // [SB-13-1]
  const options: RouteOptions = { payload, ack: frame.ack, ref: frame.ref, timeoutMs: deadlineMs, gather, retry: frame.retry === true, window };
  if (resolved.queued.length > 0) return queueThenRoute(ctx, session, checked, resolved, options);
  report(session, frame, ids, resolved);
  route(ctx, session, resolved, options);
}

/** [SB-4.3-3] `sent`, when the send asked for it (`ref`). */
function report(session: Session, frame: SendFrame, ids: ReturnType<typeof idsOf>, { delivered, unknown, queued }: Resolved): void {
  if (frame.ref === undefined) return;
  const sent = { action: 'sent' as const, ...ids, ref: frame.ref, delivered, unknown };
  session.send(queued.length > 0 ? { ...sent, queued: queued.map((q) => q.name) } : sent);
}

/**
 * [SB-6.3-1] A send to offline durable names: queued first, in every mailbox or in none ([SB-6.3-2]),
 * before anything is delivered; in a cluster, in Redis.
 */
function queueThenRoute(ctx: BrokerContext, session: Session, checked: Checked, resolved: Resolved, options: RouteOptions): Promise<void> | void {
  const { frame, ids } = checked;
  const now = Date.now();
  const item: QueuedItem = {
    payload: options.payload,
    senderId: session.id,
    bytes: resolved.bytes,
    queuedAt: now,
    ...(frame.ref === undefined ? {} : { ref: frame.ref }),
    ...(frame.ack === undefined ? {} : { request: { ack: frame.ack, deadline: now + options.timeoutMs, window: session.dialect === 'legacy' ? 0 : (options.window ?? 0) } }),
  };
  const queuedThen = (enqueued: Enqueued): Promise<void> | void => {
    if ('ids' in enqueued) {
      if (frame.ack !== undefined || !ctx.mailboxes.durable) {
        report(session, frame, ids, resolved);
        return route(ctx, session, resolved, options);
      }
      // `queued` means kept: reported once the store has it on disk. A message has no outcome that could
      // come before its report; a request's queued slots are not kept on disk.
      route(ctx, session, resolved, options);
      return ctx.mailboxes.synced().then(
        () => report(session, frame, ids, resolved),
        (error: Error) => session.error('internal_error', `the mailbox store could not write to disk: ${error.message}`, ids),
      );
    }
    if (enqueued.refused !== 'gone') return refuse(ctx, session, { refused: enqueued.refused, name: enqueued.name }, ids);
    // [SB-16-6] The name got a holder since it was looked up: the send is looked up again, once.
    if (checked.again !== undefined) return checked.again();
    unavailable(session, ids);
  };
  const enqueued = ctx.mailboxes.enqueue(resolved.queued, item);
  if (!(enqueued instanceof Promise)) return queuedThen(enqueued);
  return enqueued.then(
    (result) => (session.accepting ? queuedThen(result) : undefined),
    () => unavailable(session, ids),
  );
}

function refuse(ctx: BrokerContext, session: Session, refused: Refused, ids: ReturnType<typeof idsOf>): void {
  if (refused.refused === 'pool_busy') {
    const message = 'every member of a pool among the destinations is at its in-flight limit';
    session.error('limit_exceeded', message, { ...ids, limit: 'maxInFlightPerMember' }); // [SB-6.4-1]
  } else if (refused.refused === 'total') {
    const message = `the broker's mailboxes hold ${ctx.limits.maxMailboxBytesTotal} bytes, their maximum`;
    session.error('limit_exceeded', message, { ...ids, limit: 'maxMailboxBytesTotal' }); // [SB-6.3-2]
  } else {
    session.error('mailbox_full', 'the mailbox of an offline destination is full', { ...ids, id: refused.name }); // [SB-6.3-2]
  }
}

interface Resolved extends Plan {
  targets: Array<Target<Session> & { slots: number[] }>;
  delivered: string[];
  unknown: string[];
  queued: QueuedFor[];
  slotNames: string[];
  /** The UTF-8 size of the body, which mailboxes count: known only when it is queued. */
  bytes: number;
}

type Refused = { refused: 'pool_busy' } | { refused: 'full' | 'total'; name: string };

/**
 * The destinations in the order of `dest`, each once: registered names (one pool member per pool name,
 * [SB-6.4-1]), offline durable names, and names nobody holds; or why the send is refused before anything
 * is delivered. A connection reached by several names gets one message ([SB-4.3-2]) and answers for
 * each of them: one slot per name ([SB-6.2-1]).
 */
function resolve(
  ctx: BrokerContext,
  dest: readonly string[],
  isRequest: boolean,
  body: string,
  remote: ReadonlyMap<string, Holders> | undefined,
): Resolved | { refused: 'pool_busy' } {
  const resolved: Resolved = { targets: [], delivered: [], unknown: [], queued: [], slotNames: [], bytes: 0 };
  // One destination (the common request) has nothing to deduplicate: no set, no map.
  const seenNames = dest.length > 1 ? new Set<string>() : undefined;
  const byPeer = dest.length > 1 ? new Map<Session, Target<Session> & { slots: number[] }>() : undefined;
  const cap = ctx.limits.maxInFlightPerMember;
  const usable = isRequest ? (member: Session) => ctx.pending.inFlight(member) < cap : undefined;
  for (const name of dest) {
    if (seenNames !== undefined) {
      if (seenNames.has(name)) continue;
      seenNames.add(name);
    }
    const entry = ctx.names.entry(name);
    const holders = entry?.shared === false ? undefined : remote?.get(name);
    // An offline name with a mailbox: here, or in a cluster as Redis said ([SB-16-6]). Its limits are
    // checked when the send is queued.
    if (entry === undefined && (ctx.cluster === undefined ? ctx.mailboxes.has(name) : holders?.mailbox === true)) {
      if (resolved.queued.length === 0) resolved.bytes = Buffer.byteLength(body);
      resolved.queued.push({ name, slot: resolved.slotNames.length });
      resolved.slotNames.push(name);
      continue;
    }
    // A pool's members of every node in turn order: the first below its in-flight limit takes a request,
    // both as its own node counts (it marks the member busy) and as this node does ([SB-6.4-1]); none: the
    // pool is busy.
    const elsewhere =
      holders?.pool === true
        ? holders.members.find((member) => usable === undefined || (usable(member) && holders.busy?.has(member) !== true))
        : holders?.members[0];
    if (holders !== undefined && elsewhere === undefined) return { refused: 'pool_busy' };
    if (entry === undefined && elsewhere === undefined) {
      resolved.unknown.push(name);
      continue;
    }
    const peer = elsewhere ?? ctx.names.pick(name, entry!.shared ? usable : undefined);
    if (peer === undefined) return { refused: 'pool_busy' };
    resolved.delivered.push(name);
    const slot = resolved.slotNames.length;
    resolved.slotNames.push(name);
    const reached = byPeer?.get(peer);
    if (reached !== undefined) {
      reached.slots.push(slot);
      continue;
    }
    const target = { peer, name, slots: [slot] };
    byPeer?.set(peer, target);
    resolved.targets.push(target);
  }
  return resolved;
}
