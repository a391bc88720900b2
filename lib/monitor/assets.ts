/**
 * The dashboard's files (lib/monitor/README.md, "The dashboard"), served by the monitor under `/ui/`:
 * its own plain ES modules and stylesheet (lib/monitor/ui, shipped in the package as they are: no build
 * step), the browser libraries it uses (preact, htm, uplot: runtime dependencies, served from where Node
 * resolves them), and, for the request console, the compiled browser client (dist/client, dist/protocol,
 * dist/collections) with typebox. Only an allow-list of files is served, made once from those folders: a
 * request names a key of that list or gets a 404, so no path from the wire ever reaches the file system.
 * The page gets an import map for the bare module names, written into index.html, and a
 * Content-Security-Policy that lets in that one inline script (by its hash) and nothing else.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root: lib/monitor/ and dist/monitor/ are both two folders below it. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UI = join(ROOT, 'lib', 'monitor', 'ui');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The files each browser library is served with, and the module names the import map gives them. */
const LIBRARIES: ReadonlyArray<{ name: string; files: string[]; imports: Record<string, string> }> = [
  { name: 'preact', files: ['dist/preact.mjs', 'hooks/dist/hooks.mjs'], imports: { preact: 'dist/preact.mjs', 'preact/hooks': 'hooks/dist/hooks.mjs' } },
  { name: 'htm', files: ['dist/htm.module.js'], imports: { htm: 'dist/htm.module.js' } },
  { name: 'uplot', files: ['dist/uPlot.esm.js', 'dist/uPlot.min.css'], imports: { uplot: 'dist/uPlot.esm.js' } },
];

export interface Asset {
  file: string;
  type: string;
  /** Files that change only with the package may be kept a while by the browser. */
  immutable: boolean;
}

export interface Page {
  html: string;
  /** The Content-Security-Policy of the page. */
  policy: string;
}

const require = createRequire(import.meta.url);

/** The folder of an installed package, from the file Node resolves its name to. */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the folder of the package ${name}`);
    dir = parent;
  }
}

/** Every file under `dir` whose name ends with one of `extensions`, as paths relative to `dir` with `/`. */
function filesUnder(dir: string, extensions: readonly string[]): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((file) => extensions.includes(extname(file)))
    .map((file) => file.split(sep).join('/'));
}

export class Assets {
  readonly #files = new Map<string, Asset>();
  readonly #page: Page;

  constructor() {
    const imports: Record<string, string> = {};
    const add = (path: string, file: string, immutable: boolean) => {
      const type = TYPES[extname(file)];
      if (type !== undefined) this.#files.set(path, { file, type, immutable });
    };
    for (const file of filesUnder(UI, ['.js', '.css', '.png', '.svg'])) add(`/ui/${file}`, join(UI, file), false);
    for (const library of LIBRARIES) {
      const dir = packageDir(library.name);
      for (const file of library.files) add(`/ui/vendor/${library.name}/${file}`, join(dir, file), true);
      for (const [name, file] of Object.entries(library.imports)) imports[name] = `/ui/vendor/${library.name}/${file}`;
    }
    // The browser client as tsc compiled it, and typebox, which it imports by name.
    for (const folder of ['client', 'protocol', 'collections']) {
      for (const file of filesUnder(join(ROOT, 'dist', folder), ['.js'])) add(`/ui/lib/${folder}/${file}`, join(ROOT, 'dist', folder, file), false);
    }
    const typebox = packageDir('typebox');
    for (const file of filesUnder(join(typebox, 'build'), ['.mjs'])) add(`/ui/vendor/typebox/build/${file}`, join(typebox, 'build', file), true);
    const { exports } = JSON.parse(readFileSync(join(typebox, 'package.json'), 'utf8')) as { exports: Record<string, { import: string }> };
    for (const [subpath, target] of Object.entries(exports)) {
      imports[subpath === '.' ? 'typebox' : `typebox/${subpath.slice(2)}`] = `/ui/vendor/typebox/${target.import.replace(/^\.\//, '')}`;
    }
    const map = JSON.stringify({ imports });
    const hash = createHash('sha256').update(map).digest('base64');
    const html = readFileSync(join(UI, 'index.html'), 'utf8').replace(
      /<!-- the import map[^>]*-->/,
      `<script type="importmap">${map}</script>`,
    );
    const policy = [
      "default-src 'self'",
      `script-src 'self' 'sha256-${hash}'`,
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      // The request console's client connects to the broker's WebSocket, on another port (or host).
      "connect-src 'self' ws: wss:",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; ');
    this.#page = { html, policy };
  }

  /** The page at `/ui` and `/ui/`. */
  get page(): Page {
    return this.#page;
  }

  /** The asset a path names exactly, or undefined: the path is a key, never a file name. */
  get(path: string): Asset | undefined {
    return this.#files.get(path);
  }

  async read(asset: Asset): Promise<Buffer> {
    return readFile(asset.file);
  }

  /** How many files are served (for the tests). */
  get size(): number {
    return this.#files.size;
  }
}
