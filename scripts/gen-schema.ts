/**
 * Writes the machine-readable descriptions of the protocol, all from the TypeBox source in lib/protocol
 * (the same schemas the broker compiles into its validators), and never edited by hand:
 * - spec/schema/client-frames.json: the frames a client sends (protocol.md section 4);
 * - spec/schema/broker-frames.json: the frames the broker sends (section 5);
 * - spec/schema/auth-config.json: the auth file (section 12);
 * - spec/asyncapi.json: an AsyncAPI 3.0 document of the extended dialect. AsyncAPI describes one
 *   application's view; here the application is the broker: it receives the client frames and sends the
 *   broker frames.
 *
 * Run after changing lib/protocol:  node --import=@tapjs/typescript/import scripts/gen-schema.ts
 * test/conformance/schema.test.ts fails while the checked-in files differ from what this generates.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_PORT } from '../lib/broker/options.js';
import { AuthConfig, BROKER_FRAMES, CLIENT_FRAMES, EDITION, SUBPROTOCOL } from '../lib/protocol/index.js';

export const SPEC_DIR = fileURLToPath(new URL('../spec/', import.meta.url));
export const SCHEMA_DIR = fileURLToPath(new URL('../spec/schema/', import.meta.url));
export const ASYNCAPI_FILE = 'asyncapi.json';

const DO_NOT_EDIT = 'Generated from lib/protocol by scripts/gen-schema.ts: do not edit by hand.';

const DIRECTIONS = {
  'client-frames.json': {
    frames: CLIENT_FRAMES,
    title: 'switchboard v1: the frames a client sends to the broker',
    section: 'protocol.md section 4',
  },
  'broker-frames.json': {
    frames: BROKER_FRAMES,
    title: 'switchboard v1: the frames the broker sends to a client',
    section: 'protocol.md section 5',
  },
} as const;

type Json = Record<string, unknown>;

/** Replies echo the `ref` of the frame that caused them (protocol.md [SB-4.0-5]): AsyncAPI's correlation id. */
const REF_CORRELATION = { location: '$message.payload#/ref', description: 'The sender\'s ref, echoed by every reply (protocol.md [SB-4.0-5]).' };

/** A TypeBox schema as plain JSON Schema: its own keys are not enumerable, so a JSON round trip drops them. */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

const text = (document: unknown) => `${JSON.stringify(document, null, 2)}\n`;

/** File name in spec/schema -> file text, exactly as checked in. */
export function schemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [file, { frames, title, section }] of Object.entries(DIRECTIONS)) {
    const defs: Json = {};
    for (const [action, schema] of Object.entries(frames)) defs[action] = { title: action, ...plain(schema) };
    files[file] = text({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: `urn:switchboard:v1:${file.replace(/\.json$/, '')}`,
      title,
      description: `One JSON object per WebSocket text message, chosen by its "action" (${section}). ${DO_NOT_EDIT}`,
      oneOf: Object.keys(defs).map((action) => ({ $ref: `#/$defs/${action}` })),
      $defs: defs,
    });
  }
  const { description, ...auth } = plain(AuthConfig);
  files['auth-config.json'] = text({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:switchboard:v1:auth-config',
    title: 'switchboard v1: the auth file',
    description: `${String(description)} ${DO_NOT_EDIT}`,
    ...auth,
  });
  return files;
}

/**
 * The AsyncAPI 3.0 document of the extended dialect: one server, one channel (the broker's WebSocket),
 * one message per frame with the frame's schema as its payload, and two operations from the broker's view.
 * Message ids are `client.<action>` and `broker.<action>`, since `answer`, `hello` and `cancel` go both ways.
 */
export function asyncapiDocument(): Json {
  const messages: Json = {};
  const channelMessages: Json = {};
  const operationMessages = { client: [] as Json[], broker: [] as Json[] };
  for (const [side, frames] of [['client', CLIENT_FRAMES], ['broker', BROKER_FRAMES]] as const) {
    for (const [action, schema] of Object.entries(frames)) {
      const id = `${side}.${action}`;
      const payload = plain(schema);
      const properties = payload.properties as Json;
      messages[id] = {
        name: action,
        title: `${action} (${side === 'client' ? 'client to broker' : 'broker to client'})`,
        summary: payload.description,
        payload,
        ...('ref' in properties ? { correlationId: REF_CORRELATION } : {}),
      };
      channelMessages[id] = { $ref: `#/components/messages/${id}` };
      operationMessages[side].push({ $ref: `#/channels/broker/messages/${id}` });
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'switchboard',
      version: `1.${EDITION}.0`,
      description: [
        `The extended dialect of the switchboard protocol, version 1 (WebSocket subprotocol ${SUBPROTOCOL}),`,
        `edition ${EDITION} of protocol.md: info.version is 1.<edition>.0.`,
        'protocol.md is the normative text; this document describes the frames, not every rule.',
        'The application described is the broker: it receives the frames clients send and sends the frames clients receive.',
        'Every frame is one JSON object in one WebSocket text message, chosen by its "action".',
        DO_NOT_EDIT,
      ].join(' '),
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      default: {
        host: `localhost:${DEFAULT_PORT}`,
        protocol: 'ws',
        description: `switchboard serve with its defaults (ws://localhost:${DEFAULT_PORT}/); wss with --tls-cert and --tls-key.`,
      },
    },
    channels: {
      broker: {
        address: '/',
        title: 'The broker\'s WebSocket',
        description:
          `One WebSocket per client connection, on the broker's path (default "/"), offering the subprotocol ` +
          `${SUBPROTOCOL} (protocol.md section 2).`,
        servers: [{ $ref: '#/servers/default' }],
        messages: channelMessages,
        bindings: {
          ws: {
            bindingVersion: '0.1.0',
            headers: {
              type: 'object',
              properties: {
                'Sec-WebSocket-Protocol': { type: 'string', const: SUBPROTOCOL, description: 'Selects the extended dialect ([SB-2-2]).' },
              },
              required: ['Sec-WebSocket-Protocol'],
            },
          },
        },
      },
    },
    operations: {
      receiveClientFrames: {
        action: 'receive',
        channel: { $ref: '#/channels/broker' },
        title: 'Client frames',
        summary: 'The frames a client sends to the broker (protocol.md section 4).',
        messages: operationMessages.client,
      },
      sendBrokerFrames: {
        action: 'send',
        channel: { $ref: '#/channels/broker' },
        title: 'Broker frames',
        summary: 'The frames the broker sends to a client (protocol.md section 5).',
        messages: operationMessages.broker,
      },
    },
    components: { messages },
  };
}

/** Path under spec/ -> file text, for every file this script writes. */
export function generatedFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [file, content] of Object.entries(schemaFiles())) files[`schema/${file}`] = content;
  files[ASYNCAPI_FILE] = text(asyncapiDocument());
  return files;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [file, content] of Object.entries(generatedFiles())) {
    writeFileSync(new URL(file, pathToFileURL(SPEC_DIR)), content);
    process.stdout.write(`wrote spec/${file}\n`);
  }
}
