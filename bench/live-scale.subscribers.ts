/**
 * The subscriber side of bench/live-scale.bench.ts, in a process of its own. A raw graphql-transport-ws
 * client on `ws` (the graphql-ws client parses and validates every message: too slow to take 100,000
 * messages a second on the machine that also runs calltrail): each `next` is read with one regular
 * expression, and every delivery is checked on arrival: one subscription's positions must increase.
 *
 * Config (env LIVE_SCALE_CONFIG, JSON): { url, key, subs, all, conns, total, userPrefix, prefix, resume, distinct }.
 * Subscription s (its graphql-ws id is `s`) is on connection s % conns; s < all take every event of the
 * key's app, the others are filtered on user `<userPrefix><s - all>`. A connection the server closes
 * (4290 slow consumer, …) is opened again and each of its subscriptions resumes after the last
 * position it received (`after`), at most `resume` times per connection; the bench counts those closes.
 *
 * Answers IPC messages: `stats` (deliveries so far) and `final` (given the send times, per
 * subscription: count, sum of positions, order violations; delivery latency over every delivery).
 */
import WebSocket from 'ws';

interface Config {
  url: string;
  key: string;
  subs: number;
  all: number;
  conns: number;
  total: number;
  userPrefix: string;
  prefix: string;
  resume: number;
  distinct: boolean;
}

const cfg = JSON.parse(process.env.LIVE_SCALE_CONFIG ?? '{}') as Config;
const wallNow = () => performance.timeOrigin + performance.now();

/** With `distinct`, each subscription adds a field of its own (`k<s>: __typename`): no two share an execution. */
const selection = (s: number) => (cfg.distinct ? `{ id callId k${s}: __typename }` : '{ id callId }');
const ALL = (s: number) => `subscription($after: String) { callEventAdded(after: $after) ${selection(s)} }`;
const FILTERED = (s: number) => `subscription($f: CallEventFilter, $after: String) { callEventAdded(filter: $f, after: $after) ${selection(s)} }`;
/** `{"id":"<sub>","type":"next","payload":{"data":{"callEventAdded":{"id":"<position>","callId":"<prefix>-<i>"…}}}}` */
const NEXT = /^\{"id":"(\d+)","type":"next","payload":\{"data":\{"callEventAdded":\{"id":"(\d+)","callId":"[^"]*-(\d+)"/;

const counts = new Int32Array(cfg.subs);
const sums = new Float64Array(cfg.subs);
const lastPos = new Float64Array(cfg.subs);
const violations = new Int32Array(cfg.subs);
const closes: { conn: number; code: number; reason: string; at: number }[] = [];
const other = new Map<string, number>();
let delivered = 0;
let byUs = false;

/** Every delivery: callback index and arrival (wall clock), in growable typed arrays. */
let dIdx = new Int32Array(1 << 16);
let dAt = new Float64Array(1 << 16);
function record(i: number, at: number): void {
  if (delivered === dIdx.length) {
    const idx = new Int32Array(dIdx.length * 2);
    idx.set(dIdx);
    dIdx = idx;
    const ats = new Float64Array(dAt.length * 2);
    ats.set(dAt);
    dAt = ats;
  }
  dIdx[delivered] = i;
  dAt[delivered] = at;
  delivered++;
}

const cursorOf = (position: number) => Buffer.from(JSON.stringify(['event', String(position)])).toString('base64url');
const note = (what: string) => other.set(what, (other.get(what) ?? 0) + 1);

function subscribeMessage(s: number): string {
  const after = lastPos[s] > 0 ? cursorOf(lastPos[s]) : null;
  const payload = s < cfg.all ? { query: ALL(s), variables: { after } } : { query: FILTERED(s), variables: { f: { userId: `${cfg.userPrefix}${s - cfg.all}` }, after } };
  return JSON.stringify({ id: String(s), type: 'subscribe', payload });
}

function onNext(text: string): boolean {
  const m = NEXT.exec(text);
  if (!m) return false;
  const s = Number(m[1]);
  const position = Number(m[2]);
  if (position <= lastPos[s]) violations[s]++;
  else {
    lastPos[s] = position;
    counts[s]++;
    sums[s] += position;
  }
  record(Number(m[3]), wallNow());
  return true;
}

function connect(conn: number, attempt: number): void {
  const ws = new WebSocket(cfg.url, 'graphql-transport-ws', { perMessageDeflate: false });
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${cfg.key}` } })));
  ws.on('message', (data: Buffer) => {
    const text = data.toString('latin1');
    if (onNext(text)) return;
    const msg = JSON.parse(data.toString()) as { type: string; id?: string; payload?: unknown };
    if (msg.type === 'connection_ack') {
      for (let s = conn; s < cfg.subs; s += cfg.conns) ws.send(subscribeMessage(s));
      if (attempt === 0 && conn === cfg.conns - 1) process.send?.({ type: 'ready' });
    } else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    else note(msg.type === 'next' ? `unexpected next: ${text.slice(0, 160)}` : `${msg.type}: ${JSON.stringify(msg.payload ?? '').slice(0, 160)}`);
  });
  ws.on('error', (err) => note(`socket error: ${err.message}`));
  ws.on('close', (code, reason) => {
    if (byUs) return;
    closes.push({ conn, code, reason: reason.toString().slice(0, 120), at: wallNow() });
    if (attempt < cfg.resume) setTimeout(() => connect(conn, attempt + 1), 100);
  });
  sockets[conn] = ws;
}

const sockets: WebSocket[] = [];
const cpu0 = process.cpuUsage();
const started = wallNow();
for (let conn = 0; conn < cfg.conns; conn++) connect(conn, 0);

/** Nearest-rank percentile of a sorted array. */
const pct = (sorted: Float64Array, p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : Number.NaN);

process.on('message', (msg: { type: string; sentWall?: (number | null)[] }) => {
  if (msg.type === 'stats') {
    process.send?.({ type: 'stats', delivered, closes: closes.length });
    return;
  }
  if (msg.type !== 'final') return;
  byUs = true;
  const sentWall = msg.sentWall ?? [];
  const lat = new Float64Array(delivered);
  let n = 0;
  for (let d = 0; d < delivered; d++) {
    const sw = sentWall[dIdx[d]];
    if (typeof sw === 'number') lat[n++] = dAt[d] - sw;
  }
  const sorted = lat.subarray(0, n).sort();
  const cpu = process.cpuUsage(cpu0);
  process.send?.({
    type: 'final',
    counts: Array.from(counts),
    sums: Array.from(sums),
    violations: Array.from(violations),
    closes,
    other: [...other.entries()],
    latency: { n, p50: pct(sorted, 50), p99: pct(sorted, 99), max: pct(sorted, 100) },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wallSeconds: (wallNow() - started) / 1000,
  });
  for (const ws of sockets) ws.close(1000);
  setTimeout(() => process.exit(0), 300);
});
process.on('disconnect', () => process.exit(0));
// Never outlive a bench that forgot us.
setTimeout(() => process.exit(3), 30 * 60_000).unref();
