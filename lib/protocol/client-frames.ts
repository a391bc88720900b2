/**
 * Frames a client sends to the broker (protocol.md section 4). One schema per action is both the
 * TypeScript type and the validator codec.ts uses (validators.ts, generated ahead of time by
 * scripts/gen-schema.ts). Both dialects share these schemas;
 * fields marked "extended" are ignored from legacy clients only in the sense that the broker never
 * answers them with a frame a legacy client does not know [SB-2-3].
 */
import Type, { type Static } from 'typebox';
import { Ack, AnswerErrorCode, EventName, Name, Ref, Topic, TopicFilter, Trace } from './grammar.js';

const strict = { additionalProperties: false } as const;

/** [SB-4.1] Take a name; with `takeover`, from another connection of the same identity (extended). */
export const RegisterFrame = Type.Object(
  {
    action: Type.Literal('register'),
    id: Name,
    takeover: Type.Optional(Type.Boolean({ description: 'Take the name over from a connection of the same identity.' })),
    shared: Type.Optional(Type.Boolean({ description: 'Serve the name as one member of a responder pool.' })),
    durable: Type.Optional(Type.Boolean({ description: 'Queue messages for the name while it is offline.' })),
    ref: Type.Optional(Ref),
  },
  { ...strict, description: 'Register a name for this connection.' },
);
export type RegisterFrame = Static<typeof RegisterFrame>;

/** [SB-4.2] Release one name (`id`), or every name this connection holds (no `id`). */
export const UnregisterFrame = Type.Object(
  { action: Type.Literal('unregister'), id: Type.Optional(Name), ref: Type.Optional(Ref) },
  { ...strict, description: 'Release a name, or all names of this connection.' },
);
export type UnregisterFrame = Static<typeof UnregisterFrame>;

/** [SB-4.3] Deliver `message` to one or several names; with `ack`, it is a request. */
export const SendFrame = Type.Object(
  {
    action: Type.Literal('send'),
    dest: Type.Union([Name, Type.Array(Name, { minItems: 1 })]),
    message: Type.Unknown({ description: 'Any JSON value, delivered as sent.' }),
    ack: Type.Optional(Ack),
    ref: Type.Optional(Ref),
    timeout: Type.Optional(Type.Integer({ minimum: 1, description: 'Deadline in milliseconds (extended).' })),
    gather: Type.Optional(Type.Boolean({ description: 'Wait for every destination, not the first answer (extended).' })),
    retry: Type.Optional(Type.Boolean({ description: 'Safe to move to another pool member if one goes away (extended).' })),
    event: Type.Optional(EventName),
    trace: Type.Optional(Trace),
    stream: Type.Optional(Type.Boolean({ description: 'With ack: accept progressive results, `progress` frames before the outcome (extended, edition 3).' })),
  },
  { ...strict, description: 'Send a message; with ack it is a request that ends in exactly one outcome.' },
);
export type SendFrame = Static<typeof SendFrame>;

/** The error a responder may answer with instead of a value (extended). */
export const AnswerError = Type.Object(
  { code: AnswerErrorCode, message: Type.String({ maxLength: 1024 }) },
  { ...strict, description: 'An error answer: a responder-chosen code and a human-readable message.' },
);
export type AnswerError = Static<typeof AnswerError>;

/** [SB-4.4] Answer a request this connection received, by the `ack` the broker gave it. */
export const AnswerFrame = Type.Object(
  {
    action: Type.Literal('answer'),
    ack: Ack,
    message: Type.Optional(Type.Unknown()),
    error: Type.Optional(AnswerError),
    from: Type.Optional(Type.String({ maxLength: 1024, description: 'Sent by wsmsgbroker clients; ignored.' })),
    trace: Type.Optional(Trace),
  },
  { ...strict, description: 'Answer a received request: a value in message, or an error.' },
);
export type AnswerFrame = Static<typeof AnswerFrame>;

/** [SB-4.5] Present a token; the connection becomes the token's identity (extended). */
export const AuthFrame = Type.Object(
  { action: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 4096 }), ref: Type.Optional(Ref) },
  { ...strict, description: 'Authenticate this connection with a token.' },
);
export type AuthFrame = Static<typeof AuthFrame>;

/** [SB-4.6-4] The opt-in to `*` and `>` in `topic`: without it a filter must be a topic, as in edition 2. */
const Wildcards = Type.Optional(Type.Boolean({ description: 'true: topic may be a filter with * and > segments (edition 3, feature wildcards).' }));

/** [SB-4.6] Receive what is published to a topic and every topic below it (extended). */
export const SubscribeFrame = Type.Object(
  { action: Type.Literal('subscribe'), topic: TopicFilter, ref: Type.Optional(Ref), wildcards: Wildcards },
  { ...strict, description: 'Subscribe to a topic (or, with wildcards, a filter) and its subtopics.' },
);
export type SubscribeFrame = Static<typeof SubscribeFrame>;

/** [SB-4.6] Stop a subscription (extended). */
export const UnsubscribeFrame = Type.Object(
  { action: Type.Literal('unsubscribe'), topic: TopicFilter, ref: Type.Optional(Ref), wildcards: Wildcards },
  { ...strict, description: 'End a subscription.' },
);
export type UnsubscribeFrame = Static<typeof UnsubscribeFrame>;

/** [SB-4.7] Deliver `message` to the subscribers of one or several topics; with `ack`, a request (extended). */
export const PublishFrame = Type.Object(
  {
    action: Type.Literal('publish'),
    topic: Type.Union([Topic, Type.Array(Topic, { minItems: 1 })]),
    message: Type.Unknown(),
    ack: Type.Optional(Ack),
    ref: Type.Optional(Ref),
    timeout: Type.Optional(Type.Integer({ minimum: 1 })),
    gather: Type.Optional(Type.Boolean()),
    event: Type.Optional(EventName),
    trace: Type.Optional(Trace),
  },
  { ...strict, description: 'Publish to topics; with ack it is a request to their subscribers.' },
);
export type PublishFrame = Static<typeof PublishFrame>;

/** [SB-4.8] Deliver `message` to every connection that holds a name, but the sender (extended). */
export const BroadcastFrame = Type.Object(
  {
    action: Type.Literal('broadcast'),
    message: Type.Unknown(),
    ref: Type.Optional(Ref),
    event: Type.Optional(EventName),
    trace: Type.Optional(Trace),
  },
  { ...strict, description: 'Send a message to every named connection.' },
);
export type BroadcastFrame = Static<typeof BroadcastFrame>;

/** [SB-6.1] End a pending request of this sender now (extended). */
export const CancelFrame = Type.Object(
  { action: Type.Literal('cancel'), ack: Ack },
  { ...strict, description: 'Cancel a pending request, by the sender\'s own ack.' },
);
export type CancelFrame = Static<typeof CancelFrame>;

/** [SB-4.10] Ask which edition and features of the protocol the broker speaks, and its limits (extended). */
export const HelloFrame = Type.Object(
  { action: Type.Literal('hello'), ref: Type.Optional(Ref) },
  { ...strict, description: 'Ask the broker for its protocol edition, features and limits.' },
);
export type HelloFrame = Static<typeof HelloFrame>;

/** [SB-14-1] A service method's name: the name grammar without dots (`calc.add` splits at its last dot). */
export const MethodName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_:@/~-]+$', description: 'A method name: a name without dots.' });

/** [SB-14-1] One method of a service contract: JSON Schemas of its request and answer, its error codes. */
export const MethodContract = Type.Object(
  {
    request: Type.Record(Type.String(), Type.Unknown(), { description: 'The JSON Schema of the request message.' }),
    answer: Type.Record(Type.String(), Type.Unknown(), { description: 'The JSON Schema of the answer message.' }),
    errors: Type.Optional(Type.Array(AnswerErrorCode, { maxItems: 64, description: 'The answer error codes it may give.' })),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  strict,
);
export type MethodContract = Static<typeof MethodContract>;

/** [SB-14-1] At most 64 methods per service: a fixed bound of the rule, not a configurable limit. */
export const MAX_SERVICE_METHODS = 64;

/** [SB-14-1] Announce the contract of a name this connection holds (edition 3, feature services). */
export const AnnounceFrame = Type.Object(
  {
    action: Type.Literal('announce'),
    id: Name,
    version: Type.String({ minLength: 1, maxLength: 64, description: 'The version of the contract, e.g. "1.2.0".' }),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    methods: Type.Record(MethodName, MethodContract, { maxProperties: MAX_SERVICE_METHODS, additionalProperties: false, description: 'The methods, by name.' }),
    ref: Type.Optional(Ref),
  },
  { ...strict, description: 'Announce the contract of a service this connection serves.' },
);
export type AnnounceFrame = Static<typeof AnnounceFrame>;

/** [SB-14-4] List the services this identity may send to; with `id`, that one only (edition 3). */
export const ServicesFrame = Type.Object(
  { action: Type.Literal('services'), id: Type.Optional(Name), ref: Type.Optional(Ref) },
  { ...strict, description: 'List the announced services, their contracts, members and stats.' },
);
export type ServicesFrame = Static<typeof ServicesFrame>;

/** [SB-13-2] A part of the answer to a streaming request this connection received (extended, edition 3). */
export const ProgressFrame = Type.Object(
  {
    action: Type.Literal('progress'),
    ack: Ack,
    message: Type.Optional(Type.Unknown({ description: 'Any JSON value: one part of the answer.' })),
    trace: Type.Optional(Trace),
  },
  { ...strict, description: 'Send one progressive result of a streaming request, by the delivery id the broker gave.' },
);
export type ProgressFrame = Static<typeof ProgressFrame>;

/** [SB-13-3] The sender of a streaming request has taken `n` more parts: its receivers may send as many more. */
export const PullFrame = Type.Object(
  { action: Type.Literal('pull'), ack: Ack, n: Type.Integer({ minimum: 1, maximum: 1024, description: 'Parts taken since the last pull.' }) },
  { ...strict, description: 'Grant the receivers of a streaming request credit for n more parts.' },
);
export type PullFrame = Static<typeof PullFrame>;

/** Every frame a client may send, keyed by action. */
export const CLIENT_FRAMES = {
  hello: HelloFrame,
  auth: AuthFrame,
  register: RegisterFrame,
  unregister: UnregisterFrame,
  send: SendFrame,
  answer: AnswerFrame,
  subscribe: SubscribeFrame,
  unsubscribe: UnsubscribeFrame,
  publish: PublishFrame,
  broadcast: BroadcastFrame,
  cancel: CancelFrame,
  announce: AnnounceFrame,
  services: ServicesFrame,
  progress: ProgressFrame,
  pull: PullFrame,
} as const;

export type ClientAction = keyof typeof CLIENT_FRAMES;
export type ClientFrame =
  | HelloFrame
  | AuthFrame
  | RegisterFrame
  | UnregisterFrame
  | SendFrame
  | AnswerFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | PublishFrame
  | BroadcastFrame
  | CancelFrame
  | AnnounceFrame
  | ServicesFrame
  | ProgressFrame
  | PullFrame;
