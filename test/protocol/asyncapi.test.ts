/**
 * spec/asyncapi.json (issue 13): a valid AsyncAPI 3.0 document by @asyncapi/parser, describing every
 * frame of both directions from the broker's view, each with its frame's JSON Schema as payload. That the
 * checked-in file is what scripts/gen-schema.ts generates is test/conformance/schema.test.ts's job.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { BROKER_FRAMES, CLIENT_FRAMES } from '../../lib/protocol/index.js';

const text = readFileSync(new URL('../../spec/asyncapi.json', import.meta.url), 'utf8');
const parser = new Parser();

async function errorsOf(document: string): Promise<string[]> {
  const { diagnostics } = await parser.parse(document);
  return diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error)
    .map((d) => `${d.code} at /${d.path.join('/')}: ${d.message}`);
}

t.test('@asyncapi/parser reports no error in spec/asyncapi.json', async (t) => {
  t.same(await errorsOf(text), []);
  const { document } = await parser.parse(text);
  t.ok(document, 'the parser builds a document');
  t.equal(document?.version(), '3.0.0');
});

t.test('the check fails on a broken document', async (t) => {
  const broken = JSON.parse(text) as { operations: { receiveClientFrames: { messages: { $ref: string }[] } } };
  broken.operations.receiveClientFrames.messages.push({ $ref: '#/channels/broker/messages/client.nonsense' });
  t.not((await errorsOf(JSON.stringify(broken))).length, 0, 'a reference to a message that does not exist is an error');
});

t.test('the broker receives every client frame and sends every broker frame, each by its action', async (t) => {
  const { document } = await parser.parse(text);
  if (document === undefined) return t.fail('no document');
  const byAction = (action: 'send' | 'receive') =>
    document
      .operations()
      .all()
      .filter((operation) => operation.action() === action)
      .flatMap((operation) => operation.messages().all().map((message) => message.name()));
  t.same(byAction('receive'), Object.keys(CLIENT_FRAMES), 'received: the client frames');
  t.same(byAction('send'), Object.keys(BROKER_FRAMES), 'sent: the broker frames');
  t.same(
    document.channels().all().map((channel) => channel.address()),
    ['/'],
    'one channel: the broker\'s WebSocket',
  );
});

t.test('each message\'s payload is its frame\'s JSON Schema', async (t) => {
  const { components } = JSON.parse(text) as { components: { messages: Record<string, { name: string; payload: unknown }> } };
  for (const [side, frames] of [['client', CLIENT_FRAMES], ['broker', BROKER_FRAMES]] as const) {
    for (const [action, schema] of Object.entries(frames)) {
      t.same(components.messages[`${side}.${action}`]?.payload, JSON.parse(JSON.stringify(schema)), `${side}.${action}`);
    }
  }
});
