/**
 * The code blocks of a Markdown file, with the HTML comments that tell the docs test how to run them.
 *
 * Before a block (only blank lines between), one comment per line:
 *   `<!-- not run: reason -->`        the test does not run it, and says why;
 *   `<!-- broker: {"path":"/foo"} -->` options of the broker the block runs against (JSON BrokerOptions);
 *   `<!-- with: calc -->`             companions the test runs beside the block (see runners.ts).
 * After a block (only blank lines between), what it must print:
 *   `<!-- expect: one line -->`, or `<!-- expect:` then lines, then `-->` alone on a line.
 * In an expectation, `…` stands for any text within one line (a token, a time).
 */

export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  notRun?: string;
  broker?: Record<string, unknown>;
  with: string[];
  expect?: string;
}

const FENCE = /^\s*```(\S*)\s*$/;
const DIRECTIVE = /^\s*<!--\s*([a-z ]+):\s*(.*?)\s*-->\s*$/;
const KNOWN = new Set(['not run', 'broker', 'with']);

/** Every fenced block of `text`; throws on a malformed or unknown directive, naming its line. */
export function blocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (open === null) continue;
    const close = lines.findIndex((line, j) => j > i && /^\s*```\s*$/.test(line));
    if (close === -1) throw new Error(`${file}:${i + 1}: a code block that never ends`);
    const indent = /^\s*/.exec(lines[i])![0].length;
    const code = lines.slice(i + 1, close).map((line) => line.slice(Math.min(indent, /^\s*/.exec(line)![0].length)));
    const block: Block = { file, line: i + 1, lang: open[1], code: code.join('\n') + '\n', with: [] };
    directives(lines, i, block);
    expectation(lines, close, block);
    found.push(block);
    i = close;
  }
  return found;
}

function directives(lines: string[], fence: number, block: Block): void {
  for (let j = fence - 1; j >= 0 && (lines[j].trim() === '' || DIRECTIVE.test(lines[j])); j--) {
    const match = DIRECTIVE.exec(lines[j]);
    if (match === null) continue;
    const [, key, value] = match;
    if (key === 'expect') break; // the previous block's expectation
    const where = `${block.file}:${j + 1}`;
    if (!KNOWN.has(key)) throw new Error(`${where}: unknown directive "${key}" before a code block`);
    if (value === '') throw new Error(`${where}: "${key}" needs a value`);
    if (key === 'not run') block.notRun = value;
    else if (key === 'with') block.with.push(...value.split(/[\s,]+/));
    else block.broker = JSON.parse(value) as Record<string, unknown>;
  }
}

function expectation(lines: string[], close: number, block: Block): void {
  let j = close + 1;
  while (j < lines.length && lines[j].trim() === '') j++;
  const first = /^\s*<!--\s*expect:(.*)$/.exec(lines[j] ?? '');
  if (first === null) return;
  const inline = /^(.*?)-->\s*$/.exec(first[1]);
  if (inline !== null) {
    block.expect = inline[1].trim();
    return;
  }
  const end = lines.findIndex((line, k) => k > j && line.trim() === '-->');
  if (end === -1) throw new Error(`${block.file}:${j + 1}: an expect comment that never ends`);
  block.expect = [first[1].trim(), ...lines.slice(j + 1, end)].filter((line, k) => k > 0 || line !== '').join('\n');
}

/** Whether `actual` is what `expected` promises (`…` is any text within a line), ignoring trailing space. */
export function matches(expected: string, actual: string): boolean {
  const clean = (text: string) =>
    text
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n')
      .trim();
  const pattern = clean(expected)
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^\\n]*');
  return new RegExp(`^${pattern}$`).test(clean(actual));
}

/** A block's text with the documented broker address (localhost:9042) replaced by the test broker's. */
export function addressed(code: string, port: number): string {
  return code.replace(/\blocalhost:9042\b/g, `127.0.0.1:${port}`).replace(/'localhost', 9042\b/g, `'127.0.0.1', ${port}`);
}
