/**
 * The wire protocol of switchboard, and nothing else: frame schemas and types, error and close codes,
 * limits, dialects and the codec, and the format of the auth file (section 12). Imports only typebox, so
 * any side (broker, client, tools) can use it. A broker imports wire.ts, the same without the schemas.
 */
export * from './wire.js';
export * from './grammar.js';
export * from './client-frames.js';
export * from './broker-frames.js';
export * from './auth-config.js';
export * from './schema-check.js';
