/**
 * The switchboard broker as `brokers/switchboard.ts` runs it, with its monitor listener on (lib/monitor)
 * and `/metrics` scraped every second, as Prometheus would, for the cost of monitoring (issue 17: at least
 * 0.95 × the requests/s of `switchboard` in the same run). The scraper runs in the broker's own process,
 * so its small cost counts against the monitored broker, never in its favour.
 */
import { get } from 'node:http';
import { Broker } from '../../broker/index.js';
import { LOOPBACK, drive } from './driver.js';

const SCRAPE_EVERY_MS = 1000;

function scrape(url: string): void {
  get(url, (res) => res.resume()).on('error', () => {});
}

drive(async () => {
  const broker = new Broker({ host: LOOPBACK, port: 0, monitor: { host: LOOPBACK, port: 0 } });
  const { port } = await broker.listen();
  const metrics = `${broker.monitorAddress}/metrics`;
  const scraper = setInterval(() => scrape(metrics), SCRAPE_EVERY_MS);
  return {
    port,
    close: () => {
      clearInterval(scraper);
      return broker.close();
    },
  };
});
