/**
 * Edges: what hostile or odd HTTP traffic costs calltrail (run as a child process, CALLBACK_SECRET set).
 *
 *   refusals  a body starting with a NUL byte, a gzip body (Content-Encoding: gzip), a brotli body
 *             (Content-Encoding: br) and `Content-Type: json`, each with a valid token: the status each
 *             gets, and whether a row was kept in rejected_callbacks (controls: a valid callback, and
 *             invalid JSON).
 *   flood     FLOOD_CONNECTIONS (32) connections post unauthenticated junk (no token, a distinct ~9 KB
 *             query string and a ~45 KB random body each) for FLOOD_SECONDS (10): rows and bytes
 *             (pg_total_relation_size) added to rejected_callbacks, normalised per 10 s; and the answer
 *             time of a valid callback posted every 0.5 s meanwhile.
 *   slow      SLOW_CONNECTIONS (250) connections send the headers of a callback with Content-Length:
 *             10000, then one body byte every 5 s: how many are still open after 20 s and 60 s (the
 *             test ends at SLOW_SECONDS, 70), what they were answered, and the answer time of a valid
 *             callback posted every 5 s meanwhile. HTTP_REQUEST_TIMEOUT_MS is passed to calltrail.
 *
 * PostgreSQL: an embedded cluster of the bench's own in a temporary folder, or, with BENCH_PG_URL
 * (an admin URL such as postgres://postgres@127.0.0.1:5432/postgres), a fresh database created on
 * that server and dropped at the end.
 *
 *   npx tsx bench/edges.bench.ts
 *   EDGES=refusals,flood npx tsx bench/edges.bench.ts
 *   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres HTTP_REQUEST_TIMEOUT_MS=10000 npx tsx bench/edges.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { loadavg } from 'node:os';
import { Agent, request } from 'undici';
import { BenchApp, BenchPostgres, Scratch, createDatabase, dropDatabase, fmt, percentile, printTable, serverVersion, sleep, sql, treeVersion } from './harness';

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number, got ${process.env[name]}`);
  return v;
};
const EDGES = new Set((process.env.EDGES ?? 'refusals,flood,slow').split(',').map((s) => s.trim()));
const FLOOD_CONNECTIONS = num('FLOOD_CONNECTIONS', 32);
const FLOOD_SECONDS = num('FLOOD_SECONDS', 10);
const SLOW_CONNECTIONS = num('SLOW_CONNECTIONS', 250);
const SLOW_SECONDS = Math.min(num('SLOW_SECONDS', 70), 600);
const SLOW_CHECKPOINTS = [20, 60].filter((s) => s < SLOW_SECONDS);
const SECRET = process.env.CALLBACK_SECRET ?? 'edges-bench-secret-0123456789';
const SDKAPPID = '1400000001';
const MiB = 1024 * 1024;

const run = Date.now().toString(36);
let seq = 0;

function validBody(callId: string): string {
  return JSON.stringify({
    UserId: `user-${callId}`, RoomId: `room-${callId}`, TotalNum: 2, MediaType: 'audio', CallType: 'single', CallId: callId,
    Role: 'caller', Event: 'start_call', CallResult: '', EventTime: Math.floor(Date.now() / 1000) - 60 + (seq % 60),
  });
}
const validQuery = (extra: Record<string, string> = {}) =>
  new URLSearchParams({ sdkappid: SDKAPPID, command: 'caller_start_call', contenttype: 'json', clientip: '127.0.0.1', optplatform: 'iOS', token: SECRET, ...extra }).toString();

interface Answer {
  readonly status: number;
  readonly ms: number;
  readonly reply: Record<string, unknown>;
}

async function post(app: BenchApp, query: string, body: Buffer | string, headers: Record<string, string>, dispatcher?: Agent, timeoutMs = 10_000): Promise<Answer> {
  const started = performance.now();
  const res = await request(`${app.baseUrl}/callback?${query}`, { method: 'POST', body, headers, dispatcher, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.body.text();
  let reply: Record<string, unknown> = {};
  try {
    reply = JSON.parse(text) as Record<string, unknown>;
  } catch {
    reply = { text: text.slice(0, 200) };
  }
  return { status: res.statusCode, ms: performance.now() - started, reply };
}

/** Posts a valid callback every `everyMs` until `stop()`; collects the answer times (bounded count). */
function probe(app: BenchApp, everyMs: number) {
  const times: number[] = [];
  const failures = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const callId = `edge-${run}-probe-${seq++}`;
      try {
        const a = await post(app, validQuery(), validBody(callId), { 'content-type': 'application/json' }, undefined, 30_000);
        if (a.status === 200) times.push(a.ms);
        else failures.set(String(a.status), (failures.get(String(a.status)) ?? 0) + 1);
      } catch (err) {
        const key = (err as { name?: string }).name ?? 'error';
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
      if (running) await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const fail = [...failures].map(([k, v]) => `${k}: ${v}`).join(', ');
      return `p50 ${percentile(times, 50).toFixed(0)} ms, max ${percentile(times, 100).toFixed(0)} ms (${times.length} answered 200${fail ? `; ${fail}` : ''})`;
    },
  };
}

async function refusals(app: BenchApp, url: string) {
  const callIdOf = (id: string) => `edge-${run}-${id}`;
  const json = (id: string) => validBody(callIdOf(id));
  const cases: { id: string; name: string; body: () => Buffer | string; headers: Record<string, string> }[] = [
    { id: 'valid', name: 'control: valid callback', body: () => json('valid'), headers: { 'content-type': 'application/json' } },
    { id: 'invalid', name: 'control: invalid JSON', body: () => 'not json', headers: { 'content-type': 'application/json' } },
    { id: 'nul', name: 'body starting with a NUL byte', body: () => Buffer.concat([Buffer.from([0]), Buffer.from(json('nul'))]), headers: { 'content-type': 'application/json' } },
    { id: 'gzip', name: 'gzip body, Content-Encoding: gzip', body: () => gzipSync(json('gzip')), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } },
    { id: 'br', name: 'brotli body, Content-Encoding: br', body: () => brotliCompressSync(Buffer.from(json('br'))), headers: { 'content-type': 'application/json', 'content-encoding': 'br' } },
    { id: 'ctjson', name: 'Content-Type: json', body: () => json('ctjson'), headers: { 'content-type': 'json' } },
  ];
  const rows: (string | number)[][] = [];
  for (const c of cases) {
    const marker = `${c.id}-${run}`;
    const a = await post(app, validQuery({ probe: marker }), c.body(), c.headers);
    const [kept] = await sql<{ n: number; code: string | null }>(
      url,
      `SELECT count(*)::int AS n, max(error_code) AS code FROM rejected_callbacks WHERE query_string LIKE $1`,
      [`%probe=${marker}%`],
    );
    const [ev] = await sql<{ n: number }>(url, `SELECT count(*)::int AS n FROM call_events WHERE sdk_app_id = $1 AND call_id = $2`, [SDKAPPID, callIdOf(c.id)]);
    const info = String(a.reply.ErrorInfo ?? a.reply.message ?? a.reply.text ?? '').slice(0, 90);
    rows.push([c.name, a.status, String(a.reply.ErrorCode ?? '-'), String(a.reply.code ?? '-'), kept.n > 0 ? `yes (${kept.code})` : 'no', ev.n > 0 ? 'yes' : 'no', info || '-']);
  }
  console.log('\nRefusals (each with a valid token):\n');
  printTable(['request', 'HTTP', 'ErrorCode', 'code', 'rejected_callbacks row', 'stored as event', 'ErrorInfo'], rows);
}

async function flood(app: BenchApp, url: string) {
  const size = async () =>
    (await sql<{ rows: number; times: number; bytes: number }>(
      url,
      `SELECT count(*)::int AS rows, coalesce(sum(times), 0)::int AS times, pg_total_relation_size('rejected_callbacks')::bigint AS bytes FROM rejected_callbacks`,
    ))[0];
  const before = await size();
  const pool = randomBytes(4 * MiB);
  const QUERY_BYTES = 4500; // hex: ~9 KB of query string
  const BODY_BYTES = 45 * 1024;
  const pick = (len: number) => {
    const off = Math.floor(Math.random() * (pool.length - len));
    return pool.subarray(off, off + len);
  };
  const agent = new Agent({ connections: FLOOD_CONNECTIONS, pipelining: 1 });
  const statuses = new Map<string, number>();
  const times: number[] = [];
  let sent = 0;
  const legit = probe(app, 500);
  const until = performance.now() + FLOOD_SECONDS * 1000;
  const started = performance.now();
  const worker = async () => {
    for (let i = 0; performance.now() < until && i < 1_000_000; i++) {
      const query = `sdkappid=${SDKAPPID}&command=caller_start_call&contenttype=json&n=${run}-${sent++}&junk=${pick(QUERY_BYTES).toString('hex')}`;
      try {
        const a = await post(app, query, pick(BODY_BYTES), { 'content-type': 'application/json' }, agent);
        times.push(a.ms);
        statuses.set(String(a.status), (statuses.get(String(a.status)) ?? 0) + 1);
      } catch (err) {
        const key = (err as { code?: string; name?: string }).code ?? (err as { name?: string }).name ?? 'error';
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: FLOOD_CONNECTIONS }, worker));
  const seconds = (performance.now() - started) / 1000;
  const legitResult = await legit.stop();
  await agent.close();
  const after = await size();
  const per10 = 10 / seconds;
  console.log(`\nQuarantine flood (${FLOOD_CONNECTIONS} connections, no token, ~9 KB query strings, ~45 KB bodies, ${seconds.toFixed(1)} s):\n`);
  printTable(
    ['requests', 'answers', 'answer p50 / p99', 'rows added', 'refusals counted (sum of times)', 'bytes added (per row)', 'rows per 10 s', 'MiB per 10 s', 'valid callback meanwhile'],
    [[
      fmt(sent),
      [...statuses].map(([k, v]) => `${k}: ${fmt(v)}`).join(', '),
      `${percentile(times, 50).toFixed(0)} / ${percentile(times, 99).toFixed(0)} ms`,
      fmt(after.rows - before.rows),
      fmt(after.times - before.times),
      `${((Number(after.bytes) - Number(before.bytes)) / MiB).toFixed(1)} MiB (${((Number(after.bytes) - Number(before.bytes)) / Math.max(1, after.rows - before.rows) / 1024).toFixed(1)} KiB)`,
      fmt((after.rows - before.rows) * per10),
      `+${(((Number(after.bytes) - Number(before.bytes)) / MiB) * per10).toFixed(0)} MiB`,
      legitResult,
    ]],
  );
}

async function slow(app: BenchApp) {
  const head =
    `POST /callback?${validQuery()} HTTP/1.1\r\nHost: 127.0.0.1:${app.port}\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n`;
  interface Slow {
    socket: Socket;
    closedAt: number | null;
    answer: string | null;
  }
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const conns: Slow[] = [];
  for (let i = 0; i < SLOW_CONNECTIONS; i++) {
    const socket = connect({ host: '127.0.0.1', port: app.port });
    const s: Slow = { socket, closedAt: null, answer: null };
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(head + '{'));
    socket.on('data', (b: Buffer) => (s.answer ??= b.toString('latin1').split('\r\n', 1)[0]));
    socket.on('error', () => undefined);
    socket.on('close', () => (s.closedAt ??= elapsed()));
    conns.push(s);
  }
  const trickle = setInterval(() => {
    for (const c of conns) if (c.closedAt === null && !c.socket.destroyed) c.socket.write(' ');
  }, 5000);
  const legit = probe(app, 5000);
  const open = () => conns.filter((c) => c.closedAt === null).length;
  const checkpoints: string[] = [];
  for (const at of SLOW_CHECKPOINTS) {
    await sleep(Math.max(0, at * 1000 - (performance.now() - started)));
    checkpoints.push(`${open()} / ${SLOW_CONNECTIONS}`);
  }
  await sleep(Math.max(0, SLOW_SECONDS * 1000 - (performance.now() - started)));
  const atEnd = open();
  clearInterval(trickle);
  const legitResult = await legit.stop();
  const answers = new Map<string, number>();
  for (const c of conns) if (c.answer) answers.set(c.answer, (answers.get(c.answer) ?? 0) + 1);
  const closed = conns.map((c) => c.closedAt).filter((t): t is number => t !== null);
  for (const c of conns) c.socket.destroy();
  console.log(`\nSlow bodies (${SLOW_CONNECTIONS} connections, Content-Length: 10000, one byte every 5 s; HTTP_REQUEST_TIMEOUT_MS=${app.env.HTTP_REQUEST_TIMEOUT_MS ?? 'unset'}):\n`);
  printTable(
    [...SLOW_CHECKPOINTS.map((s) => `open after ${s} s`), `open after ${SLOW_SECONDS} s`, 'closed by the server at', 'answers', 'valid callback meanwhile'],
    [[
      ...checkpoints,
      `${atEnd} / ${SLOW_CONNECTIONS}`,
      closed.length ? `${percentile(closed, 0).toFixed(0)}–${percentile(closed, 100).toFixed(0)} s` : '-',
      [...answers].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none',
      legitResult,
    ]],
  );
}

async function main() {
  const scratch = new Scratch('edges');
  try {
    let adminUrl: string;
    let where: string;
    if (process.env.BENCH_PG_URL) {
      adminUrl = process.env.BENCH_PG_URL;
      where = 'PostgreSQL at BENCH_PG_URL';
    } else {
      adminUrl = (await BenchPostgres.start(scratch)).adminUrl;
      where = 'embedded PostgreSQL';
    }
    const name = `calltrail_edges_${process.pid}`;
    const url = await createDatabase(adminUrl, name);
    // Registered before calltrail starts, so it runs after calltrail is stopped (also on SIGINT).
    if (process.env.BENCH_PG_URL) scratch.onCleanup(() => dropDatabase(adminUrl, name), () => undefined);
    const app = await BenchApp.start(scratch, { databaseUrl: url, env: { CALLBACK_SECRET: SECRET } });
    await app.waitReady();
    console.log(`edges bench: tree ${treeVersion()}, ${where} ${await serverVersion(url)}, calltrail pid ${app.pid} on :${app.port}, CALLBACK_SECRET set, load average ${loadavg()[0].toFixed(1)}`);
    if (EDGES.has('refusals')) await refusals(app, url);
    if (EDGES.has('flood')) await flood(app, url);
    if (EDGES.has('slow')) await slow(app);
    if (!app.running) console.log(`\ncalltrail exited during the bench; log:\n${app.tail()}`);
  } finally {
    await scratch.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
