/**
 * The protocol as a broker runs it: constants, limits, the codec, the validators generated ahead of
 * time and the frame types, and no schema builder, so that importing it loads no TypeBox but its
 * guards. index.ts adds the TypeBox schemas themselves, for clients, tools and tests.
 */
export * from './patterns.js';
export * from './errors.js';
export * from './close-codes.js';
export * from './limits.js';
export * from './dialects.js';
export * from './codec.js';
export * from './envelope.js';
export * from './schema-errors.js';
export * from './validators.js';
export type * from './client-frames.js';
export type * from './broker-frames.js';
export type * from './auth-config.js';
export type { Ack, AnswerErrorCode, EventName, Name, Ref, Topic, TopicFilter, Trace } from './grammar.js';
