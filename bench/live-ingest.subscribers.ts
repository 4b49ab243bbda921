/**
 * The subscriber side of bench/live-ingest.bench.ts, in a process of its own so that its event
 * loop (parsing every delivered event) does not delay the sender's. Started by the bench with
 * `fork` and an IPC channel; exits when the bench asks for the final figures or goes away.
 *
 * Config (env LIVE_SUBS_CONFIG, JSON): { url, key, subs, conns, total, userPrefix, prefix }.
 * Subscription s is on connection s % conns; s < subs/2 take every event of the app, the others are
 * filtered on user `<userPrefix><s - subs/2>`. The first all-events subscription on each connection
 * is a probe: it records the arrival time (wall clock) of each callback index.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

interface Config {
  url: string;
  key: string;
  subs: number;
  conns: number;
  total: number;
  userPrefix: string;
  prefix: string;
}

const cfg = JSON.parse(process.env.LIVE_SUBS_CONFIG ?? '{}') as Config;
const wallNow = () => performance.timeOrigin + performance.now();
const half = Math.ceil(cfg.subs / 2);
const counts = new Int32Array(cfg.subs);
const firstAt = new Float64Array(cfg.subs).fill(Number.NaN);
const lastAt = new Float64Array(cfg.subs).fill(Number.NaN);
const subErrors = new Map<string, number>();
const closes: { conn: number; code: number; reason: string; at: number }[] = [];
let byUs = false;
const probes = new Map<number, Float64Array>();
const cpu0 = process.cpuUsage();
const started = wallNow();

const send = (msg: unknown) => {
  if (process.connected) process.send!(msg);
};

const clients: Client[] = Array.from({ length: cfg.conns }, (_, conn) =>
  createClient({
    url: cfg.url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${cfg.key}` },
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    on: {
      closed: (e) => {
        if (byUs) return;
        const ev = e as { code?: number; reason?: string };
        closes.push({ conn, code: ev.code ?? 0, reason: String(ev.reason ?? '').slice(0, 120), at: wallNow() });
      },
    },
  }),
);

const ALL = 'subscription { callEventAdded { cursor callId event } }';
const FILTERED = 'subscription($f: CallEventFilter) { callEventAdded(filter: $f) { cursor callId event } }';
const idxOf = (callId: string) => Number(callId.slice(cfg.prefix.length + 1));

for (let s = 0; s < cfg.subs; s++) {
  const conn = s % cfg.conns;
  const all = s < half;
  const probe = all && s < cfg.conns ? new Float64Array(cfg.total).fill(Number.NaN) : null;
  if (probe) probes.set(s, probe);
  const payload = all ? { query: ALL } : { query: FILTERED, variables: { f: { userId: `${cfg.userPrefix}${s - half}` } } };
  clients[conn].subscribe<{ callEventAdded: { cursor: string; callId: string; event: string } }>(payload, {
    next: (r) => {
      const now = wallNow();
      counts[s]++;
      if (Number.isNaN(firstAt[s])) firstAt[s] = now;
      lastAt[s] = now;
      if (probe && r.data) {
        const i = idxOf(r.data.callEventAdded.callId);
        if (i >= 0 && i < probe.length && Number.isNaN(probe[i])) probe[i] = now;
      }
    },
    error: (err) => {
      if (byUs) return;
      const e = err as { code?: number; reason?: string; message?: string };
      const key = Array.isArray(err) ? `graphql: ${(err as { message?: string }[]).map((x) => x.message).join('; ').slice(0, 120)}` : e.code !== undefined ? `close ${e.code}` : String(e.message ?? err).slice(0, 120);
      subErrors.set(key, (subErrors.get(key) ?? 0) + 1);
    },
    complete: () => undefined,
  });
}
send({ type: 'ready' });

const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const a = Float64Array.from(xs).sort();
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))];
};

process.on('message', (msg: { type: string; sentWall?: (number | null)[] }) => {
  if (msg.type === 'stats') {
    let delivered = 0;
    for (const c of counts) delivered += c;
    send({ type: 'stats', delivered, closes: closes.length });
    return;
  }
  if (msg.type === 'final') {
    const sentWall = msg.sentWall ?? [];
    const lat: number[] = [];
    for (const probe of probes.values()) {
      for (let i = 0; i < probe.length; i++) {
        const sw = sentWall[i];
        if (!Number.isNaN(probe[i]) && typeof sw === 'number') lat.push(probe[i] - sw);
      }
    }
    const cpu = process.cpuUsage(cpu0);
    byUs = true;
    send({
      type: 'final',
      counts: Array.from(counts),
      firstAt: Array.from(firstAt),
      lastAt: Array.from(lastAt),
      half,
      closes,
      subErrors: [...subErrors.entries()],
      latency: { n: lat.length, probes: probes.size, p50: pct(lat, 50), p99: pct(lat, 99), max: pct(lat, 100) },
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      wallSeconds: (wallNow() - started) / 1000,
    });
    void Promise.all(clients.map((c) => c.dispose())).finally(() => setTimeout(() => process.exit(0), 200));
  }
});
process.on('disconnect', () => process.exit(0));
// Never outlive a bench that forgot us.
setTimeout(() => process.exit(3), 30 * 60_000).unref();
