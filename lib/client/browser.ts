/**
 * The client for browsers: the core as is, whose default WebSocket is `globalThis.WebSocket`.
 * It imports only the protocol module (and through it `typebox`), so it loads as plain ES modules with
 * an import map for `typebox`, or through any bundler.
 */
export * from './index.js';
