/**
 * Pieces shared by bench/amplification.bench.ts and bench/live-ingest.bench.ts (on top of
 * bench/harness.ts): a Tencent-like open-loop sender of distinct v1 callbacks, the RSS of the
 * calltrail child sampled from /proc, a scoped API key inserted directly, and a few readings of
 * calltrail's /metrics.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { Agent, request } from 'undici';
import { percentile, sleep, sql } from './harness';

export const SDKAPPID = '1400000001';

/**
 * Lowers the priority of a bench's subscriber process (SUBS_NICE, 10; 0 leaves it alone): the consoles'
 * own work (parsing every message) is not calltrail's, and remote consoles would not share its cores.
 */
export function niceSubscribers(pid: number): void {
  const nice = num('SUBS_NICE', 10);
  if (nice !== 0) setPriority(pid, nice);
}

export const num = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name}: expected a non-negative number, got ${process.env[name]}`);
  return v;
};

export const loadAverage = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

/** A scoped API key, inserted the way ApiKeyRepository.create does (sha256 hex of the key). */
export async function createScopedKey(url: string, name: string, apps: string[] | null): Promise<string> {
  const key = `ctk_${randomBytes(32).toString('base64url')}`;
  const hash = createHash('sha256').update(key).digest('hex');
  await sql(url, `INSERT INTO api_keys (name, key_hash, sdk_app_ids) VALUES ($1, $2, $3)`, [name, hash, apps]);
  return key;
}

/** VmRSS / VmHWM of a process in KiB (from /proc/<pid>/status); NaN when unreadable. */
export function procMemKb(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

/** Samples the RSS of `pid` every `everyMs`; `peakKb` over the samples since the last `reset()`. */
export class RssSampler {
  peakKb = 0;
  samples = 0;
  private timer: NodeJS.Timeout;
  constructor(
    private readonly pid: () => number | undefined,
    everyMs = 200,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): void {
    const pid = this.pid();
    if (!pid) return;
    const { rss } = procMemKb(pid);
    if (Number.isFinite(rss)) {
      this.samples++;
      if (rss > this.peakKb) this.peakKb = rss;
    }
  }
  reset(): void {
    this.peakKb = 0;
    this.samples = 0;
    this.sample();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export const mb = (kb: number): string => (Number.isFinite(kb) && kb > 0 ? `${(kb / 1024).toFixed(0)} MB` : '-');

const EVENTS: [role: string, event: string, result: string][] = [
  ['caller', 'start_call', ''],
  ['callee', 'receive_call', ''],
  ['callee', 'accept_call', ''],
  ['caller', 'call_accepted', ''],
  ['caller', 'call_end', 'normal_end'],
  ['callee', 'call_end', 'normal_end'],
  ['callee', 'reject_call', ''],
  ['caller', 'cancel_call', ''],
];
const PLATFORMS = ['iOS', 'Android', 'Web', 'miniProgram'];

export interface CallbackRequest {
  readonly callId: string;
  readonly userId: string;
  readonly path: string;
  readonly body: string;
}

/** Callback `i` of a load: its own CallId (`<prefix>-<i>`), so each is a distinct event and a new call. */
export function loadCallback(prefix: string, i: number, userId: string, eventTime: number): CallbackRequest {
  const [role, event, result] = EVENTS[i % EVENTS.length];
  const callId = `${prefix}-${i}`;
  const body = {
    UserId: userId,
    RoomId: `room-${prefix}-${i}`,
    TotalNum: 2,
    MediaType: i % 3 === 0 ? 'video' : 'audio',
    CallType: 'single',
    CallId: callId,
    Role: role,
    Event: event,
    CallResult: result,
    EventTime: eventTime,
    StartCallTs: eventTime - 30,
    AcceptTs: result ? eventTime - 25 : 0,
    EndTs: result ? eventTime : 0,
  };
  return { callId, userId, path: callbackPath(role, event, i), body: JSON.stringify(body) };
}

export function callbackPath(role: string, event: string, i: number): string {
  const query = new URLSearchParams({
    sdkappid: SDKAPPID,
    command: `${role}_${event}`,
    contenttype: 'json',
    clientip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    optplatform: PLATFORMS[i % PLATFORMS.length],
  });
  return `/callback?${query}`;
}

/** The outcome of one callback POST as the sender saw it. */
export interface Sent {
  /** ms since the load's start (performance clock) when the request was handed to the client. */
  sentAt: number;
  /** Wall clock (ms, sub-ms precision) at send, comparable across processes of this machine. */
  sentWall: number;
  /** ms since the load's start when the answer (or the timeout) came; NaN while in flight. */
  doneAt: number;
  latency: number;
  /** HTTP status, `timeout`, or an error code. */
  outcome: string;
  /** HTTP 200 with ErrorCode 0. */
  ok: boolean;
  /** A timeout while connecting (the server did not accept the connection in time). */
  connectTimeout?: boolean;
}

export const wallNow = (): number => performance.timeOrigin + performance.now();

/** One POST of a callback with a client timeout; never throws. */
export async function postOnce(agent: Agent, base: string, cb: CallbackRequest, timeoutMs: number, t0: number): Promise<Sent> {
  const started = performance.now();
  const s: Sent = { sentAt: started - t0, sentWall: wallNow(), doneAt: Number.NaN, latency: Number.NaN, outcome: 'pending', ok: false };
  try {
    const res = await request(`${base}${cb.path}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: cb.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    s.outcome = String(res.statusCode);
    if (res.statusCode === 200) {
      try {
        s.ok = (JSON.parse(text) as { ErrorCode?: unknown }).ErrorCode === 0;
      } catch {
        s.ok = false;
      }
    }
  } catch (err) {
    const e = err as { name?: string; code?: string };
    // No answer within the client timeout; a connection the server did not accept in time (its
    // event loop blocked, the listen backlog full) counts as a timeout too.
    s.outcome =
      e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_ABORTED' || e.code === 'UND_ERR_CONNECT_TIMEOUT'
        ? 'timeout'
        : (e.code ?? e.name ?? 'error');
    if (e.code === 'UND_ERR_CONNECT_TIMEOUT') s.connectTimeout = true;
  }
  const end = performance.now();
  s.doneAt = end - t0;
  s.latency = end - started;
  return s;
}

/**
 * Sends `RATE` distinct callbacks per second for `durationS` seconds (callback i is due at i / rate
 * s: an open loop, like Tencent, that does not slow down when answers do), each once with a client
 * timeout. Resolves when every request has an outcome (bounded by the timeout).
 */
export async function openLoopSend(opts: {
  agent: Agent;
  base: string;
  rate: number;
  durationS: number;
  timeoutMs: number;
  make: (i: number) => CallbackRequest;
  onSent?: (i: number, s: Sent) => void;
}): Promise<{ sent: Sent[]; t0: number; sendSpanMs: number }> {
  const total = Math.round(opts.rate * opts.durationS);
  const requests = Array.from({ length: total }, (_, i) => opts.make(i));
  const t0 = performance.now();
  const pending: Promise<Sent>[] = [];
  for (let loop = 0; pending.length < total && loop < 10_000_000; loop++) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * opts.rate) + 1);
    while (pending.length < due) {
      const i = pending.length;
      const p = postOnce(opts.agent, opts.base, requests[i], opts.timeoutMs, t0);
      if (opts.onSent) void p.then((s) => opts.onSent!(i, s));
      pending.push(p);
    }
    await sleep(2);
  }
  const sendSpanMs = performance.now() - t0;
  const sent = await Promise.all(pending);
  return { sent, t0, sendSpanMs };
}

/** Counts of outcomes, latency percentiles of answered requests, longest time without a 200. */
export function summarise(sent: Sent[], windowMs: number) {
  const count = (o: string) => sent.filter((s) => s.outcome === o).length;
  const answered = sent.filter((s) => s.outcome !== 'timeout' && /^\d+$/.test(s.outcome));
  const lat = answered.map((s) => s.latency);
  // Longest stretch without a 200: from the start to the first, between two, and from the last to
  // the end of the sending (`windowMs`) when nothing was answered 200 after it.
  const oks = sent
    .filter((s) => s.ok)
    .map((s) => s.doneAt)
    .sort((a, b) => a - b);
  let gap = 0;
  let gapAt = 0;
  let prev = 0;
  for (const t of oks.length && oks[oks.length - 1] >= windowMs ? oks : [...oks, windowMs]) {
    if (t - prev > gap) {
      gap = t - prev;
      gapAt = prev;
    }
    prev = t;
  }
  const others = new Map<string, number>();
  for (const s of sent) if (!['200', '503', 'timeout'].includes(s.outcome)) others.set(s.outcome, (others.get(s.outcome) ?? 0) + 1);
  return {
    sent: sent.length,
    ok: sent.filter((s) => s.ok).length,
    http200: count('200'),
    http503: count('503'),
    timeouts: count('timeout'),
    connectTimeouts: sent.filter((s) => s.connectTimeout).length,
    others: [...others.entries()].map(([k, v]) => `${k}: ${v}`).join(', ') || '-',
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: percentile(lat, 100),
    gapMs: gap,
    gapAtMs: gapAt,
  };
}

export const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : '-');

/** A timeouts cell: all, and how many of them were connections not accepted in time. */
export const timeoutsCell = (s: { timeouts: number; connectTimeouts: number }): string =>
  s.connectTimeouts ? `${s.timeouts.toLocaleString('en-US')} (${s.connectTimeouts.toLocaleString('en-US')} at connect)` : s.timeouts.toLocaleString('en-US');

/** A longest-gap cell: seconds, and where in the phase it began. */
export const gapCell = (s: { gapMs: number; gapAtMs: number }, windowMs: number): string =>
  s.gapMs >= windowMs - 1 ? `${(s.gapMs / 1000).toFixed(1)} s (the whole phase)` : `${(s.gapMs / 1000).toFixed(2)} s (from ${(s.gapAtMs / 1000).toFixed(1)} s)`;

/** An Agent for a sender: connect within the client timeout, keep-alive. */
export const senderAgent = (timeoutMs: number, connections?: number): Agent =>
  new Agent({ keepAliveTimeout: 4000, connect: { timeout: timeoutMs }, ...(connections ? { connections } : {}) });

/** The text of calltrail's /metrics (empty when it does not answer within `timeoutMs`). */
export async function scrapeMetrics(base: string, timeoutMs = 3000): Promise<string> {
  try {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}

/** A sample of a metric (labels as written, e.g. `le="1"`); NaN when absent. */
export function metricValue(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [key, value] = line.split(' ');
    if (key === (labels ? `${name}{${labels}}` : name)) return Number(value);
  }
  return Number.NaN;
}

/** Ingest transactions between two scrapes: count, and how many took more than 0.5 s / 1 s. */
export function batchDelta(before: string, after: string) {
  const d = (name: string, labels = '') => metricValue(after, name, labels) - (metricValue(before, name, labels) || 0);
  const count = d('calltrail_ingest_batch_seconds_count');
  const le05 = d('calltrail_ingest_batch_seconds_bucket', 'le="0.5"');
  const le1 = d('calltrail_ingest_batch_seconds_bucket', 'le="1"');
  const le2 = d('calltrail_ingest_batch_seconds_bucket', 'le="2"');
  const sum = d('calltrail_ingest_batch_seconds_sum');
  const callbacks = d('calltrail_ingest_batch_size_sum');
  return { count, over05: count - le05, over1: count - le1, over2: count - le2, meanMs: (1000 * sum) / count, callbacks };
}

/** Per-label increase of a counter between two scrapes, e.g. `outcome="stored": 123`. */
export function labelledDelta(before: string, after: string, name: string): Map<string, number> {
  const read = (text: string) => {
    const m = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      const close = line.lastIndexOf('}');
      m.set(line.slice(name.length + 1, close), Number(line.slice(close + 1).trim()));
    }
    return m;
  };
  const a = read(after);
  const b = read(before);
  const out = new Map<string, number>();
  for (const [k, v] of a) if (v - (b.get(k) ?? 0) > 0) out.set(k, v - (b.get(k) ?? 0));
  return out;
}

/** What calltrail counted for the callbacks it finished (calltrail_callbacks_total), as a cell. */
export function handledCell(before: string, after: string): string {
  if (!after) return 'no /metrics answer';
  const d = labelledDelta(before, after, 'calltrail_callbacks_total');
  let total = 0;
  for (const v of d.values()) total += v;
  return `${Math.round(total).toLocaleString('en-US')} (${[...d.entries()].map(([k, v]) => `${k.replace(/^outcome=|"/g, '')}: ${Math.round(v).toLocaleString('en-US')}`).join(', ') || '-'})`;
}

/**
 * calltrail's event-loop delay p99 / max since the previous scrape of /metrics (prom-client's
 * monitorEventLoopDelay, reset at each scrape), as a cell.
 */
export function loopDelayCell(after: string): string {
  const p99 = metricValue(after, 'calltrail_nodejs_eventloop_lag_p99_seconds');
  const max = metricValue(after, 'calltrail_nodejs_eventloop_lag_max_seconds');
  return Number.isFinite(max) ? `${(p99 * 1000).toFixed(0)} / ${(max * 1000).toFixed(0)} ms` : '-';
}

/**
 * calltrail's own view of POST /callback between two scrapes (calltrail_http_request_duration_seconds,
 * every status): how many it answered and, from the histogram's buckets, the bucket bounds the median and
 * the 99th percentile fall in, as a cell. Time a request spends before calltrail reads it (the client's
 * queue, the kernel's) is not in it: compare with the client's answer times.
 */
export function serverLatencyCell(before: string, after: string): string {
  if (!after) return 'no /metrics answer';
  const buckets = new Map<number, number>();
  for (const text of [after, before]) {
    const sign = text === after ? 1 : -1;
    for (const line of text.split('\n')) {
      if (!line.startsWith('calltrail_http_request_duration_seconds_bucket{') || !line.includes('route="/callback"') || !line.includes('method="POST"')) continue;
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (!le) continue;
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + sign * Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return '0 answered';
  const at = (q: number) => {
    const i = sorted.findIndex(([, n]) => n >= q * total);
    const hi = sorted[i][0];
    const lo = i > 0 ? sorted[i - 1][0] : 0;
    return Number.isFinite(hi) ? `${(lo * 1000).toFixed(lo < 0.01 ? 1 : 0)}–${(hi * 1000).toFixed(hi < 0.01 ? 1 : 0)} ms` : `over ${(lo * 1000).toFixed(0)} ms`;
  };
  return `${Math.round(total).toLocaleString('en-US')} answered; p50 in ${at(0.5)}, p99 in ${at(0.99)}`;
}
