/**
 * The JSON Schema in spec/schema and the AsyncAPI document spec/asyncapi.json are generated from
 * lib/protocol (issues 4 and 13): a test fails when the checked-in files drift from what
 * scripts/gen-schema.ts generates.
 */
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { Compile } from 'typebox/compile';
import { loadProfile } from '../../lib/conformance/index.js';
import { AuthConfig, BROKER_FRAMES, CLIENT_FRAMES } from '../../lib/protocol/index.js';
import { SCHEMA_DIR, SPEC_DIR, generatedFiles, schemaFiles } from '../../scripts/gen-schema.js';

const REGENERATE = 'node --import=@tapjs/typescript/import scripts/gen-schema.ts';

t.test('spec/schema and spec/asyncapi.json match the TypeBox source', async (t) => {
  t.same(readdirSync(SCHEMA_DIR).sort(), Object.keys(schemaFiles()).sort(), 'spec/schema holds exactly the generated files');
  const generated = generatedFiles();
  t.ok('asyncapi.json' in generated && 'schema/auth-config.json' in generated, 'the AsyncAPI document and the auth file\'s schema');
  for (const [file, text] of Object.entries(generated)) {
    const checkedIn = readFileSync(new URL(file, `file://${SPEC_DIR}`), 'utf8');
    t.equal(checkedIn, text, `spec/${file} is up to date (regenerate: ${REGENERATE})`);
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

/** Every object schema under `schema` whose properties lack a description, as JSON pointers. */
function undescribed(schema: unknown, at = ''): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const { properties, items } = schema as { properties?: Record<string, { description?: string }>; items?: unknown };
  const missing: string[] = [];
  for (const [key, field] of Object.entries(properties ?? {})) {
    if (typeof field.description !== 'string') missing.push(`${at}/properties/${key}`);
    missing.push(...undescribed(field, `${at}/properties/${key}`));
  }
  return [...missing, ...undescribed(items, `${at}/items`)];
}

t.test('spec/schema/auth-config.json is the auth file\'s schema, every field described (protocol.md section 12)', async (t) => {
  const document = JSON.parse(schemaFiles()['auth-config.json']);
  t.equal(document.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.same(Object.keys(document.properties), ['identities', 'anonymous']);
  t.same(undescribed(document), [], 'every field has a description');
});

t.test('the auth file example of protocol.md and every auth setting of spec/cases are valid auth files', async (t) => {
  const check = Compile(AuthConfig);
  const protocol = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8');
  const section = protocol.slice(protocol.indexOf('\n## 12. '));
  const example = /```json\n([\s\S]*?)```/.exec(section);
  t.ok(example, 'section 12 has a JSON example');
  t.ok(check.Check(JSON.parse(example?.[1] ?? 'null')), 'the example of section 12');
  let settings = 0;
  for (const c of await loadProfile('extended')) {
    if (c instanceof Error || c.requires.auth === undefined) continue;
    settings++;
    t.ok(check.Check(c.requires.auth), `${c.id}: its auth setting`);
  }
  t.ok(settings >= 5, `${settings} cases need an auth file`);
});
