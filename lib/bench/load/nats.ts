/**
 * NATS driven by the `nats` npm client: a responder subscribes to its own subject and answers with
 * `msg.respond`; a request is `nc.request` (its muxed inbox keeps the first reply). A request to two
 * destinations goes to a subject that both neighbours subscribe to, so both answer and the first wins.
 * Messages are JSON text, encoded and decoded at each end like the other systems' frames.
 */
import { RequestStrategy, connect, type Msg, type NatsConnection } from 'nats';
import { CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS, type Adapter, type Closeable, type Target } from './adapter.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function natsClient(target: Target): Adapter {
  const open = (name: string) =>
    connect({ servers: `${target.host}:${target.port}`, name, reconnect: false, timeout: CONNECT_TIMEOUT_MS });
  const closer = (nc: NatsConnection): Closeable => ({ close: () => nc.close().catch(() => {}) });
  return {
    driver: 'nats client',
    async requester(name) {
      const nc = await open(name);
      return {
        request: async (dests, message, gather) => {
          const subject = dests.length === 1 ? `one.${dests[0]}` : `pair.${dests[0]}`;
          const data = encoder.encode(JSON.stringify(message));
          if (!gather) {
            const reply = await nc.request(subject, data, { timeout: REQUEST_TIMEOUT_MS });
            return JSON.parse(decoder.decode(reply.data)) as unknown;
          }
          const replies = await nc.requestMany(subject, data, { strategy: RequestStrategy.Count, maxMessages: dests.length, maxWait: REQUEST_TIMEOUT_MS });
          const answers: unknown[] = [];
          for await (const reply of replies) answers.push(JSON.parse(decoder.decode(reply.data)));
          if (answers.length < dests.length) throw new Error(`gathered ${answers.length} of ${dests.length} answers`);
          return answers;
        },
        close: closer(nc).close,
      };
    },
    async responder(name) {
      const nc = await open(name);
      const index = target.responders.indexOf(name);
      const previous = target.responders[(index - 1 + target.responders.length) % target.responders.length];
      const echo = (error: Error | null, msg: Msg) => {
        if (error !== null) return;
        const message: unknown = JSON.parse(decoder.decode(msg.data));
        msg.respond(encoder.encode(JSON.stringify(message)));
      };
      const subjects = new Set([`one.${name}`, `pair.${name}`, `pair.${previous}`]);
      for (const subject of subjects) nc.subscribe(subject, { callback: echo });
      await nc.flush();
      return closer(nc);
    },
    async idle(name) {
      const nc = await open(name);
      nc.subscribe(`one.${name}`, { callback: () => {} });
      await nc.flush();
      return closer(nc);
    },
  };
}
