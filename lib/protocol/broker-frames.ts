/**
 * Frames the broker sends to a client (protocol.md section 5). The first four are the wsmsgbroker 1.7.2
 * frames that both dialects receive; `error` and `sent` go to extended clients only [SB-2-3].
 */
import Type, { type Static } from 'typebox';
import { ERROR_CODE_LIST } from './errors.js';
import { Ack, EventName, Name, Ref, Topic, TopicFilter, Trace } from './grammar.js';
import { AnswerError, MethodContract, MethodName } from './client-frames.js';

const strict = { additionalProperties: false } as const;

/** [SB-5.1] The name is now this connection's. */
export const RegisteredFrame = Type.Object({ action: Type.Literal('registered'), id: Name, ref: Type.Optional(Ref) }, strict);
export type RegisteredFrame = Static<typeof RegisteredFrame>;

/** [SB-5.2] The name is no longer this connection's. */
export const UnregisteredFrame = Type.Object({ action: Type.Literal('unregistered'), id: Name, ref: Type.Optional(Ref) }, strict);
export type UnregisteredFrame = Static<typeof UnregisteredFrame>;

/** [SB-5.3] A message for this connection; with `ack`, a request it may answer. */
export const MessageFrame = Type.Object(
  {
    action: Type.Literal('message'),
    message: Type.Unknown(),
    from: Name,
    ack: Type.Optional(Ack),
    topic: Type.Optional(Topic),
    context: Type.Optional(TopicFilter),
    event: Type.Optional(EventName),
    trace: Type.Optional(Trace),
    credit: Type.Optional(Type.Integer({ minimum: 1, description: 'A streaming request: the parts the receiver may send before a pull grants more (edition 3).' })),
    mailbox: Type.Optional(
      Type.String({
        pattern: '^[0-9]+-[0-9]+$',
        description: 'A message (not a request) that waited in a mailbox: its id there, unique, rising in the order queued; drop a message whose id was seen before ([SB-6.3-4]).',
      }),
    ),
  },
  strict,
);
export type MessageFrame = Static<typeof MessageFrame>;

/** [SB-5.4] The outcome of a request: the winning answer, with the sender's own `ack`. */
export const AnswerOutFrame = Type.Object(
  {
    action: Type.Literal('answer'),
    ack: Ack,
    from: Name,
    message: Type.Optional(Type.Unknown()),
    error: Type.Optional(AnswerError),
    trace: Type.Optional(Trace),
  },
  strict,
);
export type AnswerOutFrame = Static<typeof AnswerOutFrame>;

/** [SB-5.5] A coded error (extended only). */
export const ErrorFrame = Type.Object(
  {
    action: Type.Literal('error'),
    code: Type.Enum(ERROR_CODE_LIST),
    message: Type.String(),
    ack: Type.Optional(Ack),
    ref: Type.Optional(Ref),
    id: Type.Optional(Type.String()),
    path: Type.Optional(Type.String()),
    limit: Type.Optional(Type.String()),
  },
  strict,
);
export type ErrorFrame = Static<typeof ErrorFrame>;

/** [SB-5.6] The delivery report of a send that carried `ref` (extended only). */
export const SentFrame = Type.Object(
  {
    action: Type.Literal('sent'),
    ref: Ref,
    ack: Type.Optional(Ack),
    delivered: Type.Array(Name),
    unknown: Type.Array(Name),
    queued: Type.Optional(Type.Array(Name)),
  },
  strict,
);
export type SentFrame = Static<typeof SentFrame>;

/** [SB-5.7] The connection is now this identity (extended only). */
export const AuthenticatedFrame = Type.Object(
  { action: Type.Literal('authenticated'), identity: Type.String(), ref: Type.Optional(Ref) },
  strict,
);
export type AuthenticatedFrame = Static<typeof AuthenticatedFrame>;

/** [SB-5.8] A subscription is in place (extended only). */
export const SubscribedFrame = Type.Object({ action: Type.Literal('subscribed'), topic: TopicFilter, ref: Type.Optional(Ref) }, strict);
export type SubscribedFrame = Static<typeof SubscribedFrame>;

/** [SB-5.8] A subscription has ended (extended only). */
export const UnsubscribedFrame = Type.Object({ action: Type.Literal('unsubscribed'), topic: TopicFilter, ref: Type.Optional(Ref) }, strict);
export type UnsubscribedFrame = Static<typeof UnsubscribedFrame>;

/** [SB-5.9] The acknowledgement of a publish or broadcast: how many connections it reached (extended only). */
export const PublishedFrame = Type.Object(
  { action: Type.Literal('published'), receivers: Type.Integer({ minimum: 0 }), ref: Type.Optional(Ref), ack: Type.Optional(Ack) },
  strict,
);
export type PublishedFrame = Static<typeof PublishedFrame>;

/** One destination's part of a gathered outcome. */
export const GatherResult = Type.Object(
  {
    from: Name,
    message: Type.Optional(Type.Unknown()),
    error: Type.Optional(AnswerError),
    code: Type.Optional(Type.Union([Type.Literal('timeout'), Type.Literal('responder_gone')])),
    trace: Type.Optional(Trace),
  },
  strict,
);
export type GatherResult = Static<typeof GatherResult>;

/** [SB-5.10] The outcome of a gather request: one result per destination (extended only). */
export const GatheredFrame = Type.Object(
  { action: Type.Literal('gathered'), ack: Ack, results: Type.Array(GatherResult) },
  strict,
);
export type GatheredFrame = Static<typeof GatheredFrame>;

/** [SB-5.11] Stop working on the request of this delivery id: nobody will read the answer (extended only). */
export const CancelOutFrame = Type.Object(
  {
    action: Type.Literal('cancel'),
    ack: Ack,
    reason: Type.Union([Type.Literal('cancelled'), Type.Literal('timeout'), Type.Literal('answered'), Type.Literal('sender_gone')]),
  },
  strict,
);
export type CancelOutFrame = Static<typeof CancelOutFrame>;

/** [SB-4.10] The broker's answer to `hello`: what it speaks, and its limits (extended only). */
export const HelloOutFrame = Type.Object(
  {
    action: Type.Literal('hello'),
    protocol: Type.Literal('switchboard.v1'),
    edition: Type.Integer({ minimum: 1, description: 'The edition of protocol.md this broker implements.' }),
    features: Type.Array(Type.String(), { description: 'The features of section 11 this broker supports.' }),
    limits: Type.Record(Type.String(), Type.Integer(), { description: 'The limits of section 9 this broker enforces.' }),
    ref: Type.Optional(Ref),
  },
  strict,
);
export type HelloOutFrame = Static<typeof HelloOutFrame>;

/** [SB-14-1] The broker keeps the contract of `id` (edition 3, feature services). */
export const AnnouncedFrame = Type.Object({ action: Type.Literal('announced'), id: Name, ref: Type.Optional(Ref) }, strict);
export type AnnouncedFrame = Static<typeof AnnouncedFrame>;

/** [SB-14-5] Requests ended for a service or one of its methods, as the broker measured them. */
export const MethodStats = Type.Object(
  {
    requests: Type.Integer({ minimum: 0 }),
    errors: Type.Integer({ minimum: 0, description: 'Error answers and failures other than timeouts.' }),
    timeouts: Type.Integer({ minimum: 0 }),
    p50Ms: Type.Optional(Type.Number({ minimum: 0, description: 'Median time to an answer, of the recent answers.' })),
    p99Ms: Type.Optional(Type.Number({ minimum: 0 })),
  },
  strict,
);
export type MethodStats = Static<typeof MethodStats>;

export const ServiceStats = Type.Object(
  {
    requests: Type.Integer({ minimum: 0 }),
    errors: Type.Integer({ minimum: 0 }),
    timeouts: Type.Integer({ minimum: 0 }),
    p50Ms: Type.Optional(Type.Number({ minimum: 0 })),
    p99Ms: Type.Optional(Type.Number({ minimum: 0 })),
    methods: Type.Record(MethodName, MethodStats),
  },
  strict,
);
export type ServiceStats = Static<typeof ServiceStats>;

/** [SB-14-4] One announced service: its contract, how many connections hold it, its stats. */
export const ServiceInfo = Type.Object(
  {
    id: Name,
    version: Type.String({ minLength: 1, maxLength: 64 }),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    methods: Type.Record(MethodName, MethodContract),
    members: Type.Integer({ minimum: 1 }),
    stats: ServiceStats,
  },
  strict,
);
export type ServiceInfo = Static<typeof ServiceInfo>;

/** [SB-14-4] The answer to `services` (edition 3, feature services). */
export const ServicesOutFrame = Type.Object(
  { action: Type.Literal('services'), services: Type.Array(ServiceInfo), ref: Type.Optional(Ref) },
  strict,
);
export type ServicesOutFrame = Static<typeof ServicesOutFrame>;

/** [SB-13-2] A part of the answer to this sender's streaming request, with its own `ack` (edition 3). */
export const ProgressOutFrame = Type.Object(
  { action: Type.Literal('progress'), ack: Ack, from: Name, message: Type.Unknown(), trace: Type.Optional(Trace) },
  strict,
);
export type ProgressOutFrame = Static<typeof ProgressOutFrame>;

/** [SB-13-3] The sender took `n` more parts of a streaming request this receiver serves, by its delivery id. */
export const PullOutFrame = Type.Object({ action: Type.Literal('pull'), ack: Ack, n: Type.Integer({ minimum: 1 }) }, strict);
export type PullOutFrame = Static<typeof PullOutFrame>;

export const BROKER_FRAMES = {
  registered: RegisteredFrame,
  unregistered: UnregisteredFrame,
  message: MessageFrame,
  answer: AnswerOutFrame,
  error: ErrorFrame,
  sent: SentFrame,
  authenticated: AuthenticatedFrame,
  subscribed: SubscribedFrame,
  unsubscribed: UnsubscribedFrame,
  published: PublishedFrame,
  gathered: GatheredFrame,
  cancel: CancelOutFrame,
  hello: HelloOutFrame,
  announced: AnnouncedFrame,
  services: ServicesOutFrame,
  progress: ProgressOutFrame,
  pull: PullOutFrame,
} as const;

export type BrokerAction = keyof typeof BROKER_FRAMES;
export type BrokerFrame =
  | RegisteredFrame
  | UnregisteredFrame
  | MessageFrame
  | AnswerOutFrame
  | ErrorFrame
  | SentFrame
  | AuthenticatedFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | PublishedFrame
  | GatheredFrame
  | CancelOutFrame
  | HelloOutFrame
  | AnnouncedFrame
  | ServicesOutFrame
  | ProgressOutFrame
  | PullOutFrame;
