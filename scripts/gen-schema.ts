/**
 * Writes the machine-readable descriptions of the protocol, all from the TypeBox source in lib/protocol
 * (the same schemas the broker compiles into its validators), and never edited by hand:
 * - spec/schema/client-frames.json: the frames a client sends (protocol.md section 4);
 * - spec/schema/broker-frames.json: the frames the broker sends (section 5);
 * - spec/schema/auth-config.json: the auth file (section 12);
 * - spec/asyncapi.json: an AsyncAPI 3.0 document of the extended dialect. AsyncAPI describes one
 *   application's view; here the application is the broker: it receives the client frames and sends the
 *   broker frames;
 * - lib/protocol/validators.ts: the validators of the client frames and of the auth file, generated ahead
 *   of time (TypeBox's Build), with those schemas as plain data, so that the broker never loads TypeBox;
 * - lib/config/validators.ts: the same for the configuration of `switchboard serve` (lib/config/schema.ts).
 *
 * Run after changing lib/protocol:  node --import=@tapjs/typescript/import scripts/gen-schema.ts
 * test/conformance/schema.test.ts fails while the checked-in files differ from what this generates.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Build } from 'typebox/schema';
import { DEFAULT_PORT } from '../lib/broker/options.js';
import { Config } from '../lib/config/schema.js';
import { AuthConfig, BROKER_FRAMES, CLIENT_FRAMES, EDITION, SUBPROTOCOL } from '../lib/protocol/index.js';
import { UNDERSTOOD_KEYWORDS } from '../lib/protocol/schema-errors.js';

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

/** Where the generated validators go, from spec/. */
export const VALIDATORS_FILE = '../lib/protocol/validators.ts';

/** Keywords that only annotate: a validator ignores them. */
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'default', '$comment']);

/** Throws unless every keyword of `schema` is one schema-errors.ts explains: it must explain every refusal. */
function assertExplained(schema: unknown, at: string): void {
  if (typeof schema !== 'object' || schema === null) return;
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue;
    if (!UNDERSTOOD_KEYWORDS.has(keyword)) throw new Error(`${at}: keyword "${keyword}" is not explained by lib/protocol/schema-errors.ts`);
    if (keyword === 'properties' || keyword === 'patternProperties') {
      for (const [key, sub] of Object.entries(value as Json)) assertExplained(sub, `${at}/${keyword}/${key}`);
    } else if (keyword === 'anyOf') (value as unknown[]).forEach((sub, index) => assertExplained(sub, `${at}/anyOf/${index}`));
    else if (keyword === 'items' || keyword === 'additionalProperties') assertExplained(value, `${at}/${keyword}`);
  }
}

/** One validator as an expression: TypeBox's generated check functions, with their regular expressions. */
function validatorOf(schema: Json, at: string): string {
  assertExplained(schema, at);
  const build = Build(schema as never);
  if (build.UseUnevaluated()) throw new Error(`${at}: a validator that needs an evaluation context`);
  const external = build.External();
  const variables = external.variables.map((variable: unknown) => {
    if (!(variable instanceof RegExp)) throw new Error(`${at}: an external value that is not a regular expression`);
    return `new RegExp(${JSON.stringify(variable.source)}, ${JSON.stringify(variable.flags)})`;
  });
  const functions = build.Functions().map((code: string) => `  ${code};`).join('\n');
  // uniqueItems hashes each item with TypeBox's Hashing; equal JSON values have equal canonical texts.
  const hashing = functions.includes('Hashing.') ? '  const Hashing = { Hash: canonical };\n' : '';
  return `(() => {\n  const ${external.identifier} = [${variables.join(', ')}];\n${hashing}${functions}\n  return (value: unknown): boolean => ${build.Entry()};\n})()`;
}

/**
 * lib/protocol/validators.ts: each client frame's validator and the auth file's, generated from the
 * TypeBox source ahead of time; their schemas as plain JSON Schema, for schema-errors.ts to explain a
 * refusal; and the actions of each direction.
 */
export function validatorsModule(): string {
  const clientSchemas: Json = {};
  const clientChecks: string[] = [];
  for (const [action, schema] of Object.entries(CLIENT_FRAMES)) {
    clientSchemas[action] = plain(schema);
    clientChecks.push(`  ${JSON.stringify(action)}: ${validatorOf(plain(schema), `client frame ${action}`).replace(/\n/g, '\n  ')},`);
  }
  return [
    `// ${DO_NOT_EDIT}`,
    '// @ts-nocheck: TypeBox writes the checks; test/protocol/validators.test.ts checks them against its compiler.',
    '/**',
    ' * The validators of what the broker receives, generated ahead of time from the TypeBox schemas of',
    ' * lib/protocol, so that the broker loads no schema builder nor compiler: each a function of TypeBox\'s',
    ' * own code generation, true when the value is valid. schema-errors.ts explains a refusal from the',
    ' * plain schemas here. Regenerate: node --import=@tapjs/typescript/import scripts/gen-schema.ts',
    ' */',
    "import { Guard } from 'typebox/guard';",
    "import type { AuthConfig } from './auth-config.js';",
    '',
    '/** A JSON value\'s text with its object keys sorted: equal values, equal texts (uniqueItems). */',
    'function canonical(value: unknown): string {',
    "  if (typeof value !== 'object' || value === null) return JSON.stringify(value);",
    "  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;",
    "  return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;",
    '}',
    '',
    '/** Every action a client may send (protocol.md section 4), in the order of CLIENT_FRAMES. */',
    `export const CLIENT_ACTIONS = ${JSON.stringify(Object.keys(CLIENT_FRAMES))} as const;`,
    '',
    '/** Every action the broker may send (protocol.md section 5), in the order of BROKER_FRAMES. */',
    `export const BROKER_ACTIONS = ${JSON.stringify(Object.keys(BROKER_FRAMES))} as const;`,
    '',
    '/** Each client frame\'s schema as plain JSON Schema. */',
    `export const CLIENT_FRAME_SCHEMAS: Record<string, Record<string, unknown>> = ${JSON.stringify(clientSchemas)};`,
    '',
    '/** Each client frame\'s validator, by action. */',
    'export const CLIENT_FRAME_CHECKS: Record<string, (value: unknown) => boolean> = {',
    ...clientChecks,
    '};',
    '',
    ...schemaAndCheck('AUTH_CONFIG_SCHEMA', 'checkAuthConfig', 'AuthConfig', AuthConfig, 'auth file'),
  ].join('\n');
}

/** A schema as plain data and its validator, as two exported constants of a generated module. */
function schemaAndCheck(schemaName: string, checkName: string, type: string, schema: unknown, what: string): string[] {
  return [
    `/** The ${what}'s schema as plain JSON Schema. */`,
    `export const ${schemaName}: Record<string, unknown> = ${JSON.stringify(plain(schema))};`,
    '',
    `/** The ${what}'s validator. */`,
    `export const ${checkName}: (value: unknown) => value is ${type} = ${validatorOf(plain(schema), what)};`,
    '',
  ];
}

/** Where the configuration's validator goes, from spec/. */
export const CONFIG_VALIDATORS_FILE = '../lib/config/validators.ts';

/** lib/config/validators.ts: the validator of `switchboard serve`'s configuration, and its schema as plain data. */
export function configValidatorsModule(): string {
  return [
    `// ${DO_NOT_EDIT}`,
    '// @ts-nocheck: TypeBox writes the check; test/protocol/validators.test.ts checks it against its compiler.',
    '/**',
    ' * The validator of the configuration of `switchboard serve` (lib/config/schema.ts), generated ahead of',
    ' * time so that the server loads no schema builder nor compiler; lib/protocol/schema-errors.ts explains a',
    ' * refusal from the plain schema here. Regenerate: node --import=@tapjs/typescript/import scripts/gen-schema.ts',
    ' */',
    "import { Guard } from 'typebox/guard';",
    "import type { Config } from './schema.js';",
    '',
    ...schemaAndCheck('CONFIG_SCHEMA', 'checkConfig', 'Config', Config, 'configuration'),
  ].join('\n');
}

/** Path under spec/ -> file text, for every file this script writes. */
export function generatedFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [file, content] of Object.entries(schemaFiles())) files[`schema/${file}`] = content;
  files[ASYNCAPI_FILE] = text(asyncapiDocument());
  files[VALIDATORS_FILE] = validatorsModule();
  files[CONFIG_VALIDATORS_FILE] = configValidatorsModule();
  return files;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [file, content] of Object.entries(generatedFiles())) {
    const url = new URL(file, pathToFileURL(SPEC_DIR));
    writeFileSync(url, content);
    process.stdout.write(`wrote ${fileURLToPath(url)}\n`);
  }
}
