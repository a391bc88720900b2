/**
 * What a handler may touch: the limits, the name registry, the pending-request table, and the broker's
 * events. Handlers get it as their first argument; the broker owns the one instance.
 */
import type { Limits } from '../protocol/index.js';
import type { NameRegistry } from './names.js';
import type { PendingTable } from './pending.js';
import type { Session } from './session.js';

export interface BrokerContext {
  readonly limits: Limits;
  readonly names: NameRegistry<Session>;
  readonly pending: PendingTable<Session>;
  /** False while the broker shuts down: new requests are refused with `shutting_down` ([SB-2-6]). */
  readonly acceptingRequests: boolean;
  /** Take a free name for `session` and tell it (`registered`). */
  takeName(session: Session, name: string): void;
  /** Release a name `session` holds, end the deliveries it was reached by, and tell it if it is still open. */
  releaseName(session: Session, name: string): void;
}
