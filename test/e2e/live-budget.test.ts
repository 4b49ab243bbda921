import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { startTestApp, type TestApp } from '../support/app';
import { commandOf, makeCallback, SDKAPPID, T0 } from '../support/callbacks';
import { createKey } from '../support/graphql';
import { settle } from '../support/ws';

const APP = '1400000007';
const CONNECTIONS = 10;
const PER_CONNECTION = 20; // LIVE_MAX_SUBSCRIPTIONS' default
const CALLBACKS = 300;
const EVERY_MS = 6.67; // 150 callbacks a second, each sent on to 200 subscribers: more than one core can fan out
/** Generous, for a loaded 2-core CI machine; without the fan-out budget the p99 here is about 9 s. */
const P99_BOUND_MS = 1000;
/**
 * Measured here (quiet 2-core machine): p99 about 120 ms at 2 ms, 600–900 ms at 10 ms, the same drain time:
 * each I/O step of a callback (request, each SQL statement of its batch, reply) waits up to one budget.
 */
const FANOUT_BUDGET_MS = '2';

let t: TestApp;
let key: string;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

beforeAll(async () => {
  t = await startTestApp({ LIVE_POLL_MS: '200', LIVE_FANOUT_BUDGET_MS: FANOUT_BUDGET_MS });
  key = await createKey(t.db.dataSource, 'console', null);
});
afterAll(async () => {
  agent.destroy();
  await t.stop();
});

const EVENTS = `subscription($f: CallEventFilter) { callEventAdded(filter: $f) { cursor callId userId role event eventTime } }`;

/**
 * The consoles, in a process of their own as in production: parsing 60,000 messages in this process
 * would take the very event loop whose callbacks are measured. Prints, once every subscriber has
 * `expected` events (or when its stdin ends), the positions each subscriber received, in order.
 */
const CONSOLES = `
const { createClient } = require(${JSON.stringify(require.resolve('graphql-ws'))});
const WebSocket = require(${JSON.stringify(require.resolve('ws'))});
const { url, key, connections, perConnection, query, variables, expected } = JSON.parse(process.argv[1]);
const subs = [];
for (let c = 0; c < connections; c++) {
  const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { authorization: 'Bearer ' + key }, retryAttempts: 0, lazy: false, onNonLazyError: () => {} });
  for (let s = 0; s < perConnection; s++) {
    const sub = { positions: [], errors: [] };
    subs.push(sub);
    client.subscribe({ query, variables }, {
      next: (r) => {
        if (r.errors) sub.errors.push(JSON.stringify(r.errors));
        else sub.positions.push(JSON.parse(Buffer.from(r.data.callEventAdded.cursor, 'base64url').toString())[1]);
        if (subs.length === connections * perConnection && subs.every((x) => x.positions.length >= expected)) report();
      },
      error: (e) => sub.errors.push(String(e && (e.reason || e.message) || e)),
      complete: () => {},
    });
  }
}
function report() {
  process.stdout.write(JSON.stringify(subs) + '\\n', () => process.exit(0));
}
process.stdin.on('end', report);
process.stdin.resume();
`;

interface ConsoleReport {
  readonly positions: string[];
  readonly errors: string[];
}

function startConsoles(expected: number) {
  const args = { url: `${t.baseUrl.replace('http', 'ws')}/graphql`, key, connections: CONNECTIONS, perConnection: PER_CONNECTION, query: EVENTS, variables: { f: { sdkAppId: APP } }, expected };
  const child = spawn(process.execPath, ['-e', CONSOLES, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const done = new Promise<ConsoleReport[]>((resolve) => child.once('exit', () => resolve(out.trim() ? (JSON.parse(out) as ConsoleReport[]) : [])));
  return {
    /** The report once every subscriber is complete, or what they have after `ms`. */
    report: (ms: number) => {
      const timer = setTimeout(() => child.stdin.end(), ms);
      return done.finally(() => clearTimeout(timer));
    },
    kill: () => child.kill(),
  };
}

/** POSTs one callback over a kept-alive connection (fetch costs this event loop several times more). */
function post(body: Record<string, unknown>, sdkAppId: string): Promise<number> {
  const query = new URLSearchParams({ sdkappid: sdkAppId, command: commandOf(body), contenttype: 'json', clientip: '127.0.0.1', optplatform: 'iOS' });
  return new Promise((resolve, reject) => {
    const req = request(`${t.baseUrl}/callback?${query}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Posts callback `i` at its due time; its latency counts from then, so time the event loop was blocked counts too. */
async function postAt(i: number, start: number): Promise<{ status: number; latency: number }> {
  const due = start + i * EVERY_MS;
  await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  const status = await post(makeCallback({ CallId: `budget-${i % 60}`, UserId: `u${i}`, Role: 'callee', Event: 'receive_call', EventTime: T0 + i }), APP);
  return { status, latency: performance.now() - due };
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.ceil((p / 100) * values.length) - 1];
const committed = async (): Promise<string[]> =>
  (await t.db.dataSource.query(`SELECT position::text AS p FROM call_events WHERE sdk_app_id = $1 ORDER BY position`, [APP])).map((r: { p: string }) => r.p);

it('keeps answering callbacks while 200 subscribers receive every event, and each gets every event once, in order', async () => {
  // The first callbacks of a process are slow whatever the fan-out (compilation, pools): not what is measured.
  for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => post(makeCallback({ CallId: `warm-${i + k}` }), SDKAPPID)));
  const consoles = startConsoles(CALLBACKS);
  try {
    for (let i = 0; i < 200 && t.app.hub.subscriptions < CONNECTIONS * PER_CONNECTION; i++) await settle(50);
    expect(t.app.hub.subscriptions).toBe(CONNECTIONS * PER_CONNECTION);

    const start = performance.now();
    const results = await Promise.all(Array.from({ length: CALLBACKS }, (_, i) => postAt(i, start)));
    const latencies = results.map((r) => r.latency);
    // In the test output: the figures to compare across machines and changes.
    console.log(`callbacks: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(percentile(latencies, 99)).toBeLessThan(P99_BOUND_MS);

    // A 200 may come from the outage spool (a callback past INGEST_TIMEOUT_MS) before its commit.
    let positions = await committed();
    for (let i = 0; i < 100 && positions.length < CALLBACKS; i++) positions = await settle(100).then(committed);
    expect(positions).toHaveLength(CALLBACKS);

    const reports = await consoles.report(45000); // generous: CI runs other suites beside this one
    expect(reports).toHaveLength(CONNECTIONS * PER_CONNECTION);
    for (const sub of reports) {
      expect(sub.errors).toEqual([]);
      expect(sub.positions).toEqual(positions); // every event, once, in commit order
    }
  } finally {
    consoles.kill();
  }
}, 120000);
