/**
 * What the pending-request table's decisions look like on the wire (protocol.md section 6): the one
 * outcome to the sender, `cancel` to receivers still working, and the deliveries of pool failover.
 */
import type { AnswerOutFrame } from '../protocol/index.js';
import type { NameRegistry } from './names.js';
import type { PendingHooks, PendingTable } from './pending.js';
import { writeDelivery } from './route.js';
import type { Session } from './session.js';

export function pendingHooks(names: NameRegistry<Session>, pending: () => PendingTable<Session>, cap: number): PendingHooks<Session> {
  return {
    outcome(request, outcome) {
      const sender = request.sender;
      switch (outcome.kind) {
        case 'failure':
          sender.error(outcome.code, outcome.message, { ack: request.ack }); // [SB-6-5]; not to legacy [SB-6-11]
          return;
        case 'gathered':
          sender.send({ action: 'gathered', ack: request.ack, results: outcome.results }); // [SB-6.2-1]
          return;
        case 'answer': {
          const frame: AnswerOutFrame = { action: 'answer', ack: request.ack, from: outcome.from };
          if (outcome.error !== undefined) frame.error = outcome.error;
          else frame.message = outcome.message;
          sender.send(frame); // [SB-6-7]
        }
      }
    },
    cancel(delivery, reason) {
      delivery.receiver.send({ action: 'cancel', ack: delivery.id, reason }); // [SB-6.1-2]
    },
    reroute(request, lost) {
      const entry = names.entry(lost.name);
      if (entry?.shared !== true) return undefined;
      const peer = names.pick(lost.name, (member) => pending().inFlight(member) < cap, request.tried); // [SB-6.4-2]
      return peer === undefined ? undefined : { peer, name: lost.name };
    },
    deliver: writeDelivery,
  };
}
