/**
 * Frames a client sends to the broker (protocol.md section 4). One schema per action is both the
 * TypeScript type and, compiled once in codec.ts, the validator. Both dialects share these schemas;
 * fields marked "extended" are ignored from legacy clients only in the sense that the broker never
 * answers them with a frame a legacy client does not know [SB-2-3].
 */
import Type, { type Static } from 'typebox';
import { Ack, AnswerErrorCode, EventName, Name, Ref, Topic } from './grammar.js';

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

/** [SB-4.6] Receive what is published to a topic and every topic below it (extended). */
export const SubscribeFrame = Type.Object(
  { action: Type.Literal('subscribe'), topic: Topic, ref: Type.Optional(Ref) },
  { ...strict, description: 'Subscribe to a topic and its subtopics.' },
);
export type SubscribeFrame = Static<typeof SubscribeFrame>;

/** [SB-4.6] Stop a subscription (extended). */
export const UnsubscribeFrame = Type.Object(
  { action: Type.Literal('unsubscribe'), topic: Topic, ref: Type.Optional(Ref) },
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
  },
  { ...strict, description: 'Publish to topics; with ack it is a request to their subscribers.' },
);
export type PublishFrame = Static<typeof PublishFrame>;

/** [SB-4.8] Deliver `message` to every connection that holds a name, but the sender (extended). */
export const BroadcastFrame = Type.Object(
  { action: Type.Literal('broadcast'), message: Type.Unknown(), ref: Type.Optional(Ref), event: Type.Optional(EventName) },
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
  | CancelFrame;
