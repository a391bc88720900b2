/**
 * `register` (protocol.md sections 4.1, 6.4 and 16): take a name, join its pool, take it over from the
 * same identity, or refuse it. In cluster mode an exclusive name is claimed in the cluster first, and is
 * refused when a connection on another node holds it.
 */
import { CLOSE_CODES, type RegisterFrame } from '../../protocol/wire.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

type Refusal = 'name_taken' | 'name_conflict' | 'limit_exceeded' | 'forbidden' | 'unavailable';

export function handleRegister(ctx: BrokerContext, session: Session, frame: RegisterFrame): Promise<void> | void {
  const name = frame.id;
  const shared = frame.shared === true;
  const ids = refOf(session, frame); // [SB-4.0-5]
  const entry = ctx.names.entry(name);
  if (session.names.has(name) && entry?.shared === shared) {
    session.send({ action: 'registered', id: name, ...ids }); // [SB-4.1-3]
    return;
  }
  if (!ctx.authorize(session, 'register', name)) {
    refuse(ctx, session, 'forbidden', `this identity may not register "${name}"`, name, ids); // [SB-4.5-3]
    return;
  }
  if (entry !== undefined && entry.shared !== shared) {
    const modes = entry.shared ? 'a shared pool' : 'exclusively';
    refuse(ctx, session, 'name_conflict', `"${name}" is registered ${modes}; the modes never mix`, name, ids); // [SB-6.4-1]
    return;
  }
  const holder = entry?.shared === false ? entry.holder : undefined;
  if (holder !== undefined && !(frame.takeover === true && sameIdentity(holder, session))) {
    refuse(ctx, session, 'name_taken', `the name "${name}" is held by another connection`, name, ids); // [SB-4.1-2]
    return;
  }
  if (session.names.size >= ctx.limits.maxNamesPerConnection) {
    refuse(ctx, session, 'limit_exceeded', `a connection may hold at most ${ctx.limits.maxNamesPerConnection} names`, name, ids); // [SB-4.1-5]
    return;
  }
  if (ctx.cluster !== undefined) return claim(ctx, session, frame, ids);
  if (holder !== undefined) takeOver(ctx, holder, name);
  take(ctx, session, frame, ids);
}

/**
 * [SB-16-1] Claim the name in the cluster, or join its pool, then take it here; a holder on any node is
 * refused or taken over, and a pool on any node never mixes with an exclusive holder ([SB-6.4-1]).
 */
async function claim(ctx: BrokerContext, session: Session, frame: RegisterFrame, ids: { ref?: string }): Promise<void> {
  // [SB-16-6] What other nodes send it once Redis has the claim waits for `registered` and the mailbox.
  ctx.cluster!.hold(session);
  try {
    await claimThenTake(ctx, session, frame, ids);
  } finally {
    ctx.cluster!.settled(session);
  }
}

async function claimThenTake(ctx: BrokerContext, session: Session, frame: RegisterFrame, ids: { ref?: string }): Promise<void> {
  const name = frame.id;
  const shared = frame.shared === true;
  const cluster = ctx.cluster!;
  const durable = frame.durable === true || ctx.durableByPattern(name); // [SB-16-6] a mailbox if its node dies
  const claimed = await cluster.claim(session, name, frame.takeover === true, shared, durable);
  if (!session.accepting) {
    if (claimed.kind === 'ok' || claimed.kind === 'over') cluster.unclaimed(session, name);
    return;
  }
  switch (claimed.kind) {
    case 'unavailable':
      refuse(ctx, session, 'unavailable', 'the cluster cannot be reached from this broker node: try again', name, ids); // [SB-16-2]
      return;
    case 'taken':
      refuse(ctx, session, 'name_taken', `the name "${name}" is held by another connection`, name, ids); // [SB-4.1-2], [SB-16-1]
      return;
    case 'conflict': {
      const modes = shared ? 'exclusively' : 'a shared pool';
      refuse(ctx, session, 'name_conflict', `"${name}" is registered ${modes} on another node; the modes never mix`, name, ids); // [SB-6.4-1]
      return;
    }
    case 'over': {
      // The cluster moved the name; a holder on another node is closed by its own node.
      const holder = claimed.here ? ctx.sessionById(claimed.conn) : undefined;
      if (holder !== undefined && holder !== session) takeOver(ctx, holder, name);
      break;
    }
  }
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
  take(ctx, session, frame, ids);
  if (claimed.kind === 'ok') cluster.deliverQueued(session, name, claimed.queued); // [SB-6.3-1], [SB-16-6]
  if (shared) cluster.joined(session, name); // [SB-6.4-2] a retry elsewhere may come to it
}

function takeOver(ctx: BrokerContext, holder: Session, name: string): void {
  holder.close(CLOSE_CODES.takenOver, `taken over: ${name}`); // [SB-4.1-6]
  ctx.releaseName(holder, name, false);
}

function take(ctx: BrokerContext, session: Session, frame: RegisterFrame, ids: { ref?: string }): void {
  if (frame.durable === true) session.durableNames.add(frame.id); // [SB-6.3-1]
  ctx.takeName(session, frame.id, frame.shared === true, ids); // [SB-4.1-1]
}

/** Both connections proved the same identity with a token; anonymous connections never match. */
function sameIdentity(a: Session, b: Session): boolean {
  return a.authenticated && b.authenticated && a.identity?.id === b.identity?.id;
}

function refuse(ctx: BrokerContext, session: Session, code: Refusal, message: string, name: string, ids: { ref?: string }): void {
  ctx.refused(session, code, name);
  if (session.dialect === 'legacy') {
    session.close(CLOSE_CODES.policyViolation, code); // [SB-4.1-4]
    return;
  }
  session.error(code, message, code === 'limit_exceeded' ? { id: name, limit: 'maxNamesPerConnection', ...ids } : { id: name, ...ids });
}
