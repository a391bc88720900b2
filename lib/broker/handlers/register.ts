/**
 * `register` (protocol.md sections 4.1, 6.4 and 16): take a name, join its pool, take it over from the
 * same identity, or refuse it. The name directory decides (name-directory.ts): the single broker's at
 * once; a cluster's in Redis, after a quick refusal from this node's own holders, and a holder on another
 * node is refused or taken over there.
 */
import { CLOSE_CODES, type RegisterFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import { verdict, type Claim, type ClaimRequest } from '../name-directory.js';
import type { QueuedItem } from '../mailbox.js';
import { takeMailbox } from '../naming.js';
import type { Session } from '../session.js';

type Refusal = 'name_taken' | 'name_conflict' | 'limit_exceeded' | 'forbidden' | 'unavailable';

export function handleRegister(ctx: BrokerContext, session: Session, frame: RegisterFrame): Promise<void> | void {
  const name = frame.id;
  const shared = frame.shared === true;
  const ids = refOf(session, frame); // [SB-4.0-5]
  if (session.names.has(name) && ctx.names.entry(name)?.shared === shared) {
    session.send({ action: 'registered', id: name, ...ids }); // [SB-4.1-3]
    return;
  }
  if (!ctx.authorize(session, 'register', name)) {
    refuse(ctx, session, 'forbidden', `this identity may not register "${name}"`, name, ids); // [SB-4.5-3]
    return;
  }
  const request = { takeover: frame.takeover === true, shared, durable: frame.durable === true || ctx.durableByPattern(name) };
  // What the holders here say, before the limit: in a cluster, a refusal that needs no round trip to Redis.
  const local = verdict(ctx.names.entry(name), session, request);
  if (isRefusal(local)) {
    refuseClaim(ctx, session, local.kind, shared, name, ids);
    return;
  }
  if (session.names.size >= ctx.limits.maxNamesPerConnection) {
    refuse(ctx, session, 'limit_exceeded', `a connection may hold at most ${ctx.limits.maxNamesPerConnection} names`, name, ids); // [SB-4.1-5]
    return;
  }
  if (ctx.cluster !== undefined) return claim(ctx, session, frame, request, ids);
  const claimed = ctx.directory.claim(session, name, request) as Claim; // the memory directory decides at once
  if (isRefusal(claimed)) {
    refuseClaim(ctx, session, claimed.kind, shared, name, ids);
    return;
  }
  if (claimed.kind === 'over') takeOver(ctx, claimed, session, name);
  take(ctx, session, frame, ids);
}

/**
 * [SB-16-1] Claim the name in the cluster, or join its pool, then take it here; a holder on any node is
 * refused or taken over, and a pool on any node never mixes with an exclusive holder ([SB-6.4-1]).
 */
async function claim(ctx: BrokerContext, session: Session, frame: RegisterFrame, request: ClaimRequest, ids: { ref?: string }): Promise<void> {
  // [SB-16-6] What other nodes send it once Redis has the claim waits for `registered` and the mailbox.
  ctx.cluster!.hold(session);
  try {
    await claimThenTake(ctx, session, frame, request, ids);
  } finally {
    ctx.cluster!.settled(session);
  }
}

async function claimThenTake(ctx: BrokerContext, session: Session, frame: RegisterFrame, request: ClaimRequest, ids: { ref?: string }): Promise<void> {
  const name = frame.id;
  const { shared } = request;
  const cluster = ctx.cluster!;
  const claimed = await ctx.directory.claim(session, name, request);
  if (!session.accepting) {
    if (claimed.kind === 'ok' || claimed.kind === 'over') cluster.unclaimed(session, name);
    return;
  }
  if (isRefusal(claimed)) {
    refuseClaim(ctx, session, claimed.kind, shared, name, ids, ' on another node');
    return;
  }
  // The cluster moved the name; a holder on another node is closed by its own node.
  if (claimed.kind === 'over') takeOver(ctx, claimed, session, name);
  const entry = ctx.names.entry(name);
  if (entry !== undefined && !(shared && entry.shared)) {
    // A local holder in the other mode came while the claim was out: the modes never mix ([SB-6.4-1]).
    cluster.unclaimed(session, name);
    refuse(ctx, session, 'name_conflict', `"${name}" is registered in the other mode; the modes never mix`, name, ids);
    return;
  }
  // [SB-16-5] A subscriber that held no name is reached from other nodes by this one once they all know it.
  if (session.names.size === 0) await cluster.named(session, name);
  if (!session.accepting) {
    cluster.unclaimed(session, name);
    return;
  }
  // [SB-6.3-1], [SB-16-6] Its mailbox, taken from Redis before the name is taken here: from then on, a
  // sender on this node reaches the holder directly, and what waited must be written first.
  let queued: readonly QueuedItem[] | undefined;
  try {
    queued = await ctx.mailboxes.take(name);
  } catch {
    // Redis did not answer: asked for again, once the name is taken (naming.ts takeMailbox).
  }
  if (!session.accepting) {
    cluster.unclaimed(session, name);
    return;
  }
  take(ctx, session, frame, ids, queued ?? []);
  if (queued === undefined) void takeMailbox(ctx, session, name);
  if (shared) cluster.joined(session, name); // [SB-6.4-2] a retry elsewhere may come to it
}

type RefusedClaim = { kind: 'unavailable' | 'taken' | 'conflict' };

function isRefusal(claim: Claim): claim is RefusedClaim {
  return claim.kind === 'unavailable' || claim.kind === 'taken' || claim.kind === 'conflict';
}

/** The directory refused the claim: say why. */
function refuseClaim(
  ctx: BrokerContext,
  session: Session,
  kind: RefusedClaim['kind'],
  shared: boolean,
  name: string,
  ids: { ref?: string },
  where = '',
): void {
  switch (kind) {
    case 'unavailable':
      refuse(ctx, session, 'unavailable', 'the cluster cannot be reached from this broker node: try again', name, ids); // [SB-16-2]
      return;
    case 'taken':
      refuse(ctx, session, 'name_taken', `the name "${name}" is held by another connection`, name, ids); // [SB-4.1-2], [SB-16-1]
      return;
    case 'conflict': {
      const modes = shared ? 'exclusively' : 'a shared pool';
      refuse(ctx, session, 'name_conflict', `"${name}" is registered ${modes}${where}; the modes never mix`, name, ids); // [SB-6.4-1]
      return;
    }
  }
}

/** The claim took the name over from a connection of the same identity: one here is closed. */
function takeOver(ctx: BrokerContext, claimed: Extract<Claim, { kind: 'over' }>, session: Session, name: string): void {
  const holder = claimed.here ? ctx.sessionById(claimed.conn) : undefined;
  if (holder === undefined || holder === session) return;
  holder.close(CLOSE_CODES.takenOver, `taken over: ${name}`); // [SB-4.1-6]
  ctx.releaseName(holder, name, false);
}

function take(ctx: BrokerContext, session: Session, frame: RegisterFrame, ids: { ref?: string }, queued?: readonly QueuedItem[]): void {
  if (frame.durable === true) session.durableNames.add(frame.id); // [SB-6.3-1]
  ctx.takeName(session, frame.id, frame.shared === true, ids, queued); // [SB-4.1-1]
}

function refuse(ctx: BrokerContext, session: Session, code: Refusal, message: string, name: string, ids: { ref?: string }): void {
  ctx.refused(session, code, name);
  if (session.dialect === 'legacy') {
    session.close(CLOSE_CODES.policyViolation, code); // [SB-4.1-4]
    return;
  }
  session.error(code, message, code === 'limit_exceeded' ? { id: name, limit: 'maxNamesPerConnection', ...ids } : { id: name, ...ids });
}
