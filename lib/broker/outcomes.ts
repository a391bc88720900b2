/**
 * What the pending-request table's decisions look like on the wire (protocol.md section 6): the one
 * outcome to the sender, `cancel` to receivers still working, and the deliveries of pool failover.
 */
import { encodeAnswer, encodeGathered, traceSuffix, type Limits } from '../protocol/wire.js';
import type { BrokerMetrics } from './metrics.js';
import type { NameRegistry } from './name-registry.js';
import type { PendingHooks, PendingTable } from './pending.js';
import type { ClusterNode } from './cluster/node.js';
import type { ServiceRegistry } from './services.js';
import { writeDelivery } from './route.js';
import type { Session } from './session.js';

export function pendingHooks(
  names: NameRegistry<Session>,
  pending: () => PendingTable<Session>,
  limits: Readonly<Limits>,
  metrics: BrokerMetrics,
  services?: ServiceRegistry,
  cluster?: () => ClusterNode | undefined,
): PendingHooks<Session> {
  const hooks: PendingHooks<Session> = {
    outcome(request, outcome) {
      const { sender, ack } = request;
      services?.ended(request, outcome); // [SB-14-5]
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
          return sender.send({ action: 'answer', ack, from: outcome.from, error: outcome.error, trace: outcome.trace }); // [SB-6-7], [SB-15-1]
        case 'answer':
          metrics.outcome('answer', request.startedAt, outcome.from);
          // [SB-6-7]; a legacy sender never sees the answer's trace [SB-15-2]
          return sender.write('answer', encodeAnswer(ack, outcome.from, outcome.body, sender.dialect === 'legacy' ? '' : traceSuffix(outcome.trace)));
      }
    },
    cancel(delivery, reason) {
      delivery.receiver.send({ action: 'cancel', ack: delivery.id, reason }); // [SB-6.1-2]
    },
    reroute(request, lost) {
      const tried = request.tried!; // kept for every request that may be retried
      const usable = (member: Session) => member.isOpen && !tried.has(member) && pending().inFlight(member) < limits.maxInFlightPerMember;
      // [SB-16-2] In a cluster, the pool's members of every node as last looked up.
      // A member here must still hold the name; one elsewhere is checked by its node on arrival.
      const holds = (member: Session) => 'node' in member || member.names.has(lost.name);
      const elsewhere = cluster?.()?.members(lost.name)?.find((member) => holds(member) && usable(member));
      if (elsewhere !== undefined) return { peer: elsewhere, name: lost.name };
      const entry = names.entry(lost.name);
      if (entry?.shared !== true) return undefined;
      const peer = names.pick(lost.name, (member) => pending().inFlight(member) < limits.maxInFlightPerMember, tried); // [SB-6.4-2]
      return peer === undefined ? undefined : { peer, name: lost.name };
    },
    deliver: writeDelivery,
  };
  // [SB-16-2] A member's node counts what it holds from every node; the embedded broker pays nothing for it.
  if (cluster !== undefined) hooks.held = (receiver) => cluster()?.held(receiver);
  return hooks;
}
