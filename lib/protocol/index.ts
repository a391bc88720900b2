/**
 * The wire protocol of switchboard, and nothing else: frame schemas and types, error and close codes,
 * limits, dialects and the codec, and the format of the auth file (section 12). Imports only typebox, so
 * any side (broker, client, tools) can use it.
 */
export * from './grammar.js';
export * from './errors.js';
export * from './close-codes.js';
export * from './limits.js';
export * from './client-frames.js';
export * from './broker-frames.js';
export * from './dialects.js';
export * from './codec.js';
export * from './envelope.js';
export * from './auth-config.js';
export * from './schema-check.js';
