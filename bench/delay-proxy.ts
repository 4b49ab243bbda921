/**
 * A TCP proxy that holds every chunk DELAY_MS in each direction: the network between calltrail and a
 * managed PostgreSQL, on a machine where both run on loopback (bench/ingest.bench.ts, `PG_DELAY_MS`).
 * Node's timers make the delay at least 1 ms, so a round trip through it costs about 2–3 ms.
 *
 *   LISTEN_PORT=6543 TARGET=127.0.0.1:5432 DELAY_MS=1 node --import tsx bench/delay-proxy.ts
 */
import { connect, createServer } from 'node:net';

const [host, port] = (process.env.TARGET ?? '127.0.0.1:5432').split(':');
const delayMs = Number(process.env.DELAY_MS ?? 1);

createServer((client) => {
  const server = connect(Number(port), host);
  client.setNoDelay(true);
  server.setNoDelay(true);
  const end = () => {
    client.destroy();
    server.destroy();
  };
  client.on('data', (d) => setTimeout(() => server.write(d), delayMs));
  server.on('data', (d) => setTimeout(() => client.write(d), delayMs));
  for (const s of [client, server]) s.on('error', end).on('close', end);
}).listen(Number(process.env.LISTEN_PORT), '127.0.0.1', () => console.log('ready'));
