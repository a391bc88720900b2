/**
 * What the pending-request table's decisions look like on the wire (protocol.md section 6): the one
 * outcome to the sender, `cancel` to receivers still working, and the deliveries of pool failover.
 */
import { encodeAnswer, encodeGathered, type Limits } from '../protocol/index.js';
import type { BrokerMetrics } from './metrics.js';
import type { NameRegistry } from './names.js';
import type { PendingHooks, PendingTable } from './pending.js';
import { writeDelivery } from './route.js';
import type { Session } from './session.js';

export function pendingHooks(
  names: NameRegistry<Session>,
  pending: () => PendingTable<Session>,
  limits: Readonly<Limits>,
  metrics: BrokerMetrics,
): PendingHooks<Session> {
  return {
    outcome(request, outcome) {
      const { sender, ack } = request;
      if (outcome === undefined) return metrics.outcome('sender_gone', request.startedAt, request.slotNames);
      switch (outcome.kind) {
        case 'failure':
          metrics.outcome(outcome.code, request.startedAt, request.slotNames);
          return sender.error(outcome.code, outcome.message, { ack }); // [SB-6-5]; not to legacy [SB-6-11]
        case 'gathered':
          metrics.outcome('gathered', request.startedAt, request.slotNames);
          return sender.write('gathered', encodeGathered(ack, outcome.results)); // [SB-6.2-1]
        case 'error-answer':
          metrics.outcome('error_answer', request.startedAt, outcome.from);
          return sender.send({ action: 'answer', ack, from: outcome.from, error: outcome.error }); // [SB-6-7]
        case 'answer':
          metrics.outcome('answer', request.startedAt, outcome.from);
          return sender.write('answer', encodeAnswer(ack, outcome.from, outcome.body)); // [SB-6-7]
      }
    },
    cancel(delivery, reason) {
      delivery.receiver.send({ action: 'cancel', ack: delivery.id, reason }); // [SB-6.1-2]
    },
    reroute(request, lost) {
      const entry = names.entry(lost.name);
      if (entry?.shared !== true) return undefined;
      const peer = names.pick(lost.name, (member) => pending().inFlight(member) < limits.maxInFlightPerMember, request.tried); // [SB-6.4-2]
      return peer === undefined ? undefined : { peer, name: lost.name };
    },
    deliver: writeDelivery,
  };
}
