/**
 * Rules that keep the client what it claims to be: the core imports nothing from `node:*` and not `ws`
 * (so it runs in browsers), and lib/client/README.md documents every client error code, every option
 * with its default, and every exit code of the CLI (so code and docs cannot drift apart).
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_ERROR_CODES } from '../../lib/client/errors.js';
import { CLIENT_DEFAULTS } from '../../lib/client/options.js';
import { DEFAULT_RECONNECT } from '../../lib/client/backoff.js';
import { EXIT_CODES } from '../../lib/cli/client-command.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLIENT = join(ROOT, 'lib/client');
/** Entry points that may bind a platform; everything else in lib/client is the core. */
const PLATFORM_ENTRIES = new Set(['node.ts']);

function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1]);
  return found;
}

t.test('the import scanner sees every form of import', async (t) => {
  const sample = `import a from 'x1';\nimport { b,\n c } from "x2";\nimport type { D } from 'x3';\nexport * from './x4.js';\nimport 'x5';\nconst m = await import('x6');\nrequire("x7");`;
  t.same(specifiers(sample).sort(), ['./x4.js', 'x1', 'x2', 'x3', 'x5', 'x6', 'x7']);
});

t.test('the client core imports only its own files, the protocol (index.js, or wire.js without the schemas) and lib/collections: no node:*, no ws', async (t) => {
  const files = readdirSync(CLIENT).filter((f) => f.endsWith('.ts') && !PLATFORM_ENTRIES.has(f));
  t.ok(files.length >= 10, `scanned ${files.length} core files`);
  for (const file of files) {
    const imports = specifiers(readFileSync(join(CLIENT, file), 'utf8'));
    const bad = imports.filter((s) => !(s === '../protocol/index.js' || s === '../protocol/wire.js' || /^\.\.\/collections\/[\w-]+\.js$/.test(s) || (/^\.\/[\w-]+\.js$/.test(s) && !PLATFORM_ENTRIES.has(s.slice(2).replace(/\.js$/, '.ts')))));
    t.same(bad, [], `${file} imports only the core and the protocol`);
    t.notOk(/\b(process|Buffer|__dirname|require)\s*[.(]/.test(readFileSync(join(CLIENT, file), 'utf8')), `${file} uses no Node globals`);
  }
});

t.test('the protocol module the core imports is browser-safe too: only typebox and its own files', async (t) => {
  const dir = join(ROOT, 'lib/protocol');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const bad = specifiers(readFileSync(join(dir, file), 'utf8')).filter((s) => !/^(typebox(\/\w+)?|\.\/[\w-]+\.js)$/.test(s));
    t.same(bad, [], file);
  }
});

t.test('lib/collections, which the core imports, imports nothing and uses no Node globals', async (t) => {
  const dir = join(ROOT, 'lib/collections');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  t.ok(files.length >= 1, `scanned ${files.length} files`);
  for (const file of files) {
    const source = readFileSync(join(dir, file), 'utf8');
    t.same(specifiers(source), [], file);
    t.notOk(/\b(process|Buffer|__dirname|require)\s*[.(]/.test(source), `${file} uses no Node globals`);
  }
});

t.test('the node entry point is the only file that imports ws', async (t) => {
  t.ok(specifiers(readFileSync(join(CLIENT, 'node.ts'), 'utf8')).includes('ws'));
});

t.test('lib/client/README.md documents every client error code, option default and CLI exit code', async (t) => {
  const readme = readFileSync(join(CLIENT, 'README.md'), 'utf8');
  for (const code of Object.keys(CLIENT_ERROR_CODES)) t.match(readme, `\`${code}\``, `error code ${code}`);
  for (const [option, value] of Object.entries(CLIENT_DEFAULTS)) {
    t.match(readme, new RegExp(`\\| \`${option}\` \\|[^\\n]*\\| ${value} \\|`), `option ${option} with default ${value}`);
  }
  for (const [option, value] of Object.entries(DEFAULT_RECONNECT)) {
    t.match(readme, new RegExp(`\\| \`reconnect\\.${option}\` \\|[^\\n]*\\| ${value} \\|`), `reconnect.${option} with default ${value}`);
  }
  for (const [name, code] of Object.entries(EXIT_CODES)) t.match(readme, new RegExp(`\\| ${code} \\| ${name} \\|`), `exit code ${code} ${name}`);
});
