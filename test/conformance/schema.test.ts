/**
 * The JSON Schema in spec/schema is generated from lib/protocol (issue 4): a test fails when the
 * checked-in files drift from what scripts/gen-schema.ts generates.
 */
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { BROKER_FRAMES, CLIENT_FRAMES } from '../../lib/protocol/index.js';
import { SCHEMA_DIR, schemaFiles } from '../../scripts/gen-schema.js';

const REGENERATE = 'node --import=@tapjs/typescript/import scripts/gen-schema.ts';

t.test('spec/schema matches the TypeBox source', async (t) => {
  const generated = schemaFiles();
  t.same(readdirSync(SCHEMA_DIR).sort(), Object.keys(generated).sort(), 'spec/schema holds exactly the generated files');
  for (const [file, text] of Object.entries(generated)) {
    const checkedIn = readFileSync(new URL(file, `file://${SCHEMA_DIR}`), 'utf8');
    t.equal(checkedIn, text, `spec/schema/${file} is up to date (regenerate: ${REGENERATE})`);
  }
});

t.test('each schema file describes every frame of its direction, by action', async (t) => {
  const generated = schemaFiles();
  for (const [file, frames] of [['client-frames.json', CLIENT_FRAMES], ['broker-frames.json', BROKER_FRAMES]] as const) {
    const document = JSON.parse(generated[file]);
    t.equal(document.$schema, 'https://json-schema.org/draft/2020-12/schema');
    t.same(Object.keys(document.$defs), Object.keys(frames), `${file} has one definition per action`);
    for (const [action, schema] of Object.entries(document.$defs) as [string, { properties: { action: { const: string } } }][]) {
      t.equal(schema.properties.action.const, action, `${file}: ${action} is chosen by its action`);
    }
  }
});
