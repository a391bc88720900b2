/**
 * `progress` (protocol.md section 13): a receiver of a streaming request sends one part of its answer,
 * which goes on to the sender at once, within the credit the sender granted.
 */
import { encodeProgress, traceSuffix, type ProgressFrame } from '../../protocol/wire.js';
import { forwardable } from '../checks.js';
import type { BrokerContext } from '../context.js';
import type { Session } from '../session.js';

export function handleProgress(ctx: BrokerContext, session: Session, frame: ProgressFrame, raw: string | undefined): void {
  const body = forwardable(session, frame.message ?? null, raw, { ack: frame.ack }); // [SB-4.3-5]
  if (body === undefined) return;
  const result = ctx.pending.progress(session, frame.ack);
  if (result === 'late') return; // [SB-13-4] the request ended for this receiver: dropped quietly, as a late answer
  if (result === 'unknown') {
    if (ctx.cluster?.relay(session, { action: 'progress', ack: frame.ack, trace: frame.trace }, body) === true) return; // [SB-16-2]
    session.error('unknown_ack', 'no request this connection may answer has this ack', { ack: frame.ack }); // [SB-13-4]
    return;
  }
  if (result === 'no_credit') {
    // [SB-13-3] Not forwarded: the sender has not taken the parts already sent (or the request is no stream).
    const message = `the sender has not pulled more parts: at most ${ctx.limits.streamWindow} may wait (protocol.md section 13)`;
    session.error('limit_exceeded', message, { ack: frame.ack, limit: 'streamWindow' });
    return;
  }
  const { sender, ack } = result.request;
  const trace = sender.dialect === 'legacy' ? '' : traceSuffix(frame.trace); // [SB-15-1]
  sender.write('progress', encodeProgress(ack, result.name, body, trace)); // [SB-13-2]
}
