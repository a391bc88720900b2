/**
 * The switchboard broker as `brokers/switchboard.ts` runs it, with its monitor on and the dashboard open:
 * one reader of `/v1/stream`, the overview's snapshot a second, parsing every event as the page does
 * (issue 18: at least 0.95 × the requests/s of `switchboard` in the same run). The reader runs in the
 * broker's own process, so its cost counts against the broker, never in its favour; a browser would
 * parse in its own.
 */
import { get, type ClientRequest } from 'node:http';
import { Broker } from '../../broker/index.js';
import { LOOPBACK, drive } from './driver.js';

/** Read the stream as the page does: split it into events and parse each one's data. */
function watch(url: string): ClientRequest {
  const request = get(url, (res) => {
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const data = buffer
          .slice(0, end)
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5))
          .join('');
        buffer = buffer.slice(end + 2);
        if (data !== '') JSON.parse(data);
      }
    });
  });
  request.on('error', () => {});
  return request;
}

drive(async () => {
  const broker = new Broker({ host: LOOPBACK, port: 0, monitor: { host: LOOPBACK, port: 0 } });
  const { port } = await broker.listen();
  const dashboard = watch(`${broker.monitorAddress}/v1/stream`);
  return {
    port,
    close: () => {
      dashboard.destroy();
      return broker.close();
    },
  };
});
