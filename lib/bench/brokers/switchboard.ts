/**
 * The switchboard broker as a user would run it (`new Broker(...)` with its default limits: validation,
 * correlation bookkeeping and limits all on), on a loopback port, silent.
 */
import { Broker } from '../../broker/index.js';
import { LOOPBACK, drive } from './driver.js';

drive(async () => {
  const broker = new Broker({ host: LOOPBACK, port: 0 });
  const { port } = await broker.listen();
  return { port, close: () => broker.close() };
});
