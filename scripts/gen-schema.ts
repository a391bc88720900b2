/**
 * Writes the JSON Schema of every frame into spec/schema/, from the TypeBox source in lib/protocol (the
 * same schemas the broker compiles into its validators): client-frames.json for frames a client sends
 * (protocol.md section 4), broker-frames.json for frames the broker sends (section 5).
 *
 * Run after changing lib/protocol:  node --import=@tapjs/typescript/import scripts/gen-schema.ts
 * test/conformance/schema.test.ts fails while the checked-in files differ from what this generates.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BROKER_FRAMES, CLIENT_FRAMES } from '../lib/protocol/index.js';

export const SCHEMA_DIR = fileURLToPath(new URL('../spec/schema/', import.meta.url));

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

/** File name -> file text, exactly as checked in. */
export function schemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [file, { frames, title, section }] of Object.entries(DIRECTIONS)) {
    const defs: Record<string, unknown> = {};
    // JSON round trip: a TypeBox schema serialises to plain JSON Schema (its own keys are not enumerable).
    for (const [action, schema] of Object.entries(frames)) defs[action] = { title: action, ...JSON.parse(JSON.stringify(schema)) };
    const document = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: `urn:switchboard:v1:${file.replace(/\.json$/, '')}`,
      title,
      description: `One JSON object per WebSocket text message, chosen by its "action" (${section}). Generated from lib/protocol by scripts/gen-schema.ts: do not edit by hand.`,
      oneOf: Object.keys(defs).map((action) => ({ $ref: `#/$defs/${action}` })),
      $defs: defs,
    };
    files[file] = `${JSON.stringify(document, null, 2)}\n`;
  }
  return files;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [file, text] of Object.entries(schemaFiles())) {
    writeFileSync(new URL(file, pathToFileURL(SCHEMA_DIR)), text);
    process.stdout.write(`wrote spec/schema/${file}\n`);
  }
}
