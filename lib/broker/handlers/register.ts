/**
 * `register` (protocol.md sections 4.1 and 6.4): take a name, join its pool, take it over from the same
 * identity, or refuse it.
 */
import { CLOSE_CODES, type RegisterFrame } from '../../protocol/index.js';
import { refOf } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

type Refusal = 'name_taken' | 'name_conflict' | 'limit_exceeded' | 'forbidden';

export function handleRegister(ctx: BrokerContext, session: Session, frame: RegisterFrame): void {
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
  if (holder !== undefined) {
    holder.close(CLOSE_CODES.takenOver, `taken over: ${name}`); // [SB-4.1-6]
    ctx.releaseName(holder, name, false);
  }
  if (frame.durable === true) session.durableNames.add(name); // [SB-6.3-1]
  ctx.takeName(session, name, shared, ids); // [SB-4.1-1]
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
