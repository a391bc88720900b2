/**
 * The broker checks frames and the auth file, and `switchboard serve` its configuration, with validators
 * generated ahead of time (lib/protocol/validators.ts, lib/config/validators.ts) and explains a refusal with lib/protocol/schema-errors.ts, so that it never
 * loads TypeBox's compiler. Both must agree with that compiler, which stays the reference: on frames from
 * the conformance cases, and on random mutations of them, each validator decides as TypeBox's compiled
 * check does, and schema-errors gives TypeBox's errors, in its order. And the broker's import graph holds
 * no schema builder.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import t from 'tap';
import { Compile } from 'typebox/compile';
import { AuthConfig, CLIENT_FRAMES, type ClientAction } from '../../lib/protocol/index.js';
import { schemaErrors, type JsonSchema } from '../../lib/protocol/schema-errors.js';
import { AUTH_CONFIG_SCHEMA, CLIENT_FRAME_CHECKS, CLIENT_FRAME_SCHEMAS, checkAuthConfig } from '../../lib/protocol/validators.js';
import { Config } from '../../lib/config/schema.js';
import { CONFIG_SCHEMA, checkConfig } from '../../lib/config/validators.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = Number(process.env.SB_VALIDATOR_RUNS ?? 2000);

/** Every frame a conformance case sends, its placeholders filled: valid frames and deliberately bad ones. */
function caseFrames(): Array<Record<string, unknown>> {
  const frames: Array<Record<string, unknown>> = [];
  for (const profile of ['legacy', 'extended']) {
    const dir = join(ROOT, 'spec/cases', profile);
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8').replace(/\{run\}/g, 'r1').replace(/"\$[a-z]+(:[A-Za-z0-9]+)?"/g, '"x1"');
      for (const step of JSON.parse(text).steps as Array<{ send?: string; frame?: unknown }>) {
        if (step.send !== undefined && typeof step.frame === 'object' && step.frame !== null) frames.push(step.frame as Record<string, unknown>);
      }
    }
  }
  return frames;
}

/** Values that sit on the edges of the protocol's grammar. */
const edgy = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 6 }),
  fc.constantFrom('', 'a', 'x y', 'news.*', 'news.>', '>', 'a'.repeat(128), 'a'.repeat(129), '😀'.repeat(64), '😀'.repeat(129), 'é'),
  fc.constantFrom(-1, 0, 1, 1.5, 300, 2 ** 40, true, false, null, [], {}, [''], ['a', 'a'], ['a', 'b'], { traceparent: 'x' }),
  fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'send', 'register', 'admin', 'b'.repeat(64)),
);

type Json = Record<string, unknown>;

/** One change at a random place of a JSON value: set or delete a key, or replace an element. */
const change = fc.record({ depth: fc.nat(3), pick: fc.nat(), key: fc.oneof(fc.constantFrom('action', 'id', 'dest', 'message', 'ack', 'ref', 'trace', 'topic', 'methods', 'identities', 'permissions', 'send', 'bogus'), fc.string({ maxLength: 4 })), remove: fc.boolean(), value: edgy });

function mutate(value: unknown, { depth, pick, key, remove, value: replacement }: { depth: number; pick: number; key: string; remove: boolean; value: unknown }): unknown {
  const copy = structuredClone(value);
  let at: unknown = copy;
  for (let level = 0; level < depth; level++) {
    const children = typeof at === 'object' && at !== null ? Object.values(at).filter((child) => typeof child === 'object' && child !== null) : [];
    if (children.length === 0) break;
    at = children[pick % children.length];
  }
  if (Array.isArray(at)) {
    if (at.length > 0 && remove) at.splice(pick % at.length, 1);
    else at[at.length === 0 ? 0 : pick % at.length] = replacement;
  } else if (typeof at === 'object' && at !== null) {
    const keys = Object.keys(at);
    const target = remove && keys.length > 0 ? keys[pick % keys.length] : key;
    if (remove) delete (at as Json)[target];
    else (at as Json)[target] = replacement;
  } else return replacement;
  return copy;
}

/** What a caller reads of an error: its keyword, where, the sentence, and the params the codec and the config read. */
function reading(error: { keyword: string; instancePath: string; message: string; params: object }): unknown {
  const params = error.params as Record<string, unknown>;
  const kept = error.keyword === 'required' ? params.requiredProperties : error.keyword === 'additionalProperties' ? params.additionalProperties : error.keyword === 'enum' ? params.allowedValues : undefined;
  return { keyword: error.keyword, instancePath: error.instancePath, message: error.message, kept };
}

function agrees(schema: JsonSchema, compiled: ReturnType<typeof Compile>, generated: (value: unknown) => boolean, value: unknown): boolean {
  const valid = compiled.Check(value);
  if (generated(value) !== valid) throw new Error(`the generated validator says ${!valid} where TypeBox says ${valid}: ${JSON.stringify(value)}`);
  const ours = schemaErrors(schema, value).map(reading);
  const theirs = [...compiled.Errors(value)].map(reading);
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) throw new Error(`errors differ for ${JSON.stringify(value)}:\n ours   ${JSON.stringify(ours)}\n theirs ${JSON.stringify(theirs)}`);
  return true;
}

t.test('each client frame\'s generated validator and explained errors are TypeBox\'s, on the conformance frames and their mutations', async (t) => {
  const seeds = caseFrames();
  t.ok(seeds.length > 300, `${seeds.length} frames from spec/cases`);
  const compiled = new Map(Object.entries(CLIENT_FRAMES).map(([action, schema]) => [action, Compile(schema)]));
  let refused = 0;
  for (const frame of seeds) {
    const action = frame.action as ClientAction;
    if (!compiled.has(action)) continue;
    agrees(CLIENT_FRAME_SCHEMAS[action], compiled.get(action)!, CLIENT_FRAME_CHECKS[action], frame);
    if (!CLIENT_FRAME_CHECKS[action](frame)) refused++;
  }
  t.ok(refused > 0, `the cases' deliberately bad frames are among them (${refused} refused)`);
  const actions = [...compiled.keys()];
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(change, { minLength: 1, maxLength: 3 }), fc.constantFrom(...actions), (seed, changes, other) => {
      const value = changes.reduce<unknown>(mutate, seed);
      const own = typeof (value as Json)?.action === 'string' && compiled.has((value as Json).action as string) ? ((value as Json).action as string) : other;
      return agrees(CLIENT_FRAME_SCHEMAS[own], compiled.get(own)!, CLIENT_FRAME_CHECKS[own], value) && agrees(CLIENT_FRAME_SCHEMAS[other], compiled.get(other)!, CLIENT_FRAME_CHECKS[other], value);
    }),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} mutated frames, each judged against its own action's schema and another's`);
});

t.test('the auth file\'s generated validator and explained errors are TypeBox\'s', async (t) => {
  const protocol = readFileSync(join(ROOT, 'protocol.md'), 'utf8');
  const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(protocol.slice(protocol.indexOf('\n## 12. ')))![1]) as Json;
  const compiled = Compile(AuthConfig);
  t.ok(checkAuthConfig(example), 'the example of section 12 is valid');
  fc.assert(
    fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), (changes) => agrees(AUTH_CONFIG_SCHEMA, compiled, checkAuthConfig, changes.reduce<unknown>(mutate, example))),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} mutated auth files`);
});

t.test('the configuration\'s generated validator and explained errors are TypeBox\'s', async (t) => {
  const sample: Json = {
    host: '127.0.0.1', port: 9042, path: '/', tls: { cert: 'c.pem', key: 'k.pem' }, limits: { maxDepth: 64, maxInFlightPerMember: 8 },
    auth: 'auth.json', durableNames: ['inbox.*'], allowedOrigins: ['https://a.example'], shutdownGraceMs: 0,
    monitor: { host: '127.0.0.1', port: 9043, readonly: true }, cluster: { url: 'redis://127.0.0.1:6379', prefix: 'sb:', leaseMs: 3000 },
    dataDir: 'data', log: { level: 'info', format: 'json' },
  };
  const compiled = Compile(Config);
  t.ok(checkConfig(sample), 'a configuration with every setting is valid');
  fc.assert(
    fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), (changes) => agrees(CONFIG_SCHEMA, compiled, checkConfig, changes.reduce<unknown>(mutate, sample))),
    { numRuns: RUNS },
  );
  t.pass(`${RUNS} mutated configurations`);
});

/** The packages `entry` loads when imported, following its static imports (not `import type`, not import()). */
function packagesOf(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, what, from] of source.matchAll(/^(?:import|export)(?!\s+type\b)([^;]*?)\sfrom\s+'([^']+)'/gm)) {
      if (/^\s*\{[^}]*\}\s*$/.test(what) && /^\s*\{(\s*type\s+[^,}]+,?)+\s*\}\s*$/.test(what)) continue; // only types
      if (from.startsWith('.')) walk(resolve(dirname(file), from.replace(/\.js$/, '.ts')));
      else if (!packages.has(from)) packages.set(from, file.slice(ROOT.length));
    }
  };
  walk(entry);
  return packages;
}

t.test('the broker and `switchboard serve` load no schema builder nor compiler: only TypeBox\'s guards, for the generated validators', async (t) => {
  for (const entry of ['lib/broker/index.ts', 'lib/cli/serve.ts']) {
    const packages = packagesOf(join(ROOT, entry));
    t.ok(packages.has('ws') && packages.has('typebox/guard'), `${entry}: the walk finds what it loads: ${[...packages.keys()].join(', ')}`);
    for (const [name, by] of packages) {
      if (name.startsWith('typebox')) t.equal(name, 'typebox/guard', `${entry}: ${name} (imported by ${by})`);
    }
  }
  t.ok(packagesOf(join(ROOT, 'lib/protocol/index.ts')).has('typebox/compile'), 'the walk does find TypeBox where it is: lib/protocol/index.ts');
});
