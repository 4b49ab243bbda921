import { createHash } from 'node:crypto';
import type { Delivery, TrafficPlan } from './traffic';

/** Tencent's retries of a callback not answered 200 with ErrorCode 0: 1 s, 1 s, 2 s, 3 s, 5 s after each try, then dropped (docs/trtc-callbacks.md, section 4). */
export const TENCENT_RETRY_DELAYS_MS: readonly number[] = [1000, 1000, 2000, 3000, 5000];

export interface SendOptions {
  /** calltrail's base URL, e.g. `http://localhost:8080`. */
  readonly url: string;
  /** The callback route (CALLBACK_PATH). */
  readonly path: string;
  /** CALLBACK_SECRET, sent as `?token=`. */
  readonly token: string | null;
  /** CALLBACK_SIGN_TOKEN: each try carries `RequestTime` and `Sign = hex(sha256(token + RequestTime))`. */
  readonly signToken: string | null;
  readonly retryDelaysMs: readonly number[];
  /** Most POSTs in flight at once. */
  readonly maxInFlight: number;
  /** How long one POST may take before it counts as failed (and is retried). */
  readonly requestTimeoutMs: number;
  /** Called about once a second while sending. */
  readonly onProgress?: (stats: SendStats, planned: number) => void;
}

/** What the deliveries became. */
export interface SendStats {
  /** Deliveries made (the plan's duplicates included). */
  deliveries: number;
  /** HTTP requests, retries included. */
  requests: number;
  retries: number;
  /** Distinct callbacks answered 200 at least once. */
  readonly answered: Set<number>;
  /** Final failures of deliveries never answered 200, by their last answer (`403 UNKNOWN_APP`, `timeout`, …). */
  readonly failures: Map<string, number>;
  /** The time the first POST started and the last one settled, in ms. */
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function urlOf(d: Delivery, o: SendOptions): string {
  const query = new URLSearchParams(d.query);
  if (o.token !== null) query.set('token', o.token);
  if (o.signToken !== null) {
    const requestTime = String(Math.floor(Date.now() / 1000));
    query.set('RequestTime', requestTime);
    query.set('Sign', createHash('sha256').update(`${o.signToken}${requestTime}`).digest('hex'));
  }
  return `${o.url.replace(/\/$/, '')}${o.path}?${query}`;
}

/** One try: null when answered 200 with ErrorCode 0, else what came back. */
async function post(d: Delivery, o: SendOptions): Promise<string | null> {
  try {
    const res = await fetch(urlOf(d, o), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(d.body), signal: AbortSignal.timeout(o.requestTimeoutMs) });
    const reply = (await res.json().catch(() => ({}))) as { ErrorCode?: unknown; code?: unknown };
    if (res.status === 200 && reply.ErrorCode === 0) return null;
    return `${res.status} ${String(reply.code ?? reply.ErrorCode ?? '')}`.trim();
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? 'timeout' : `no answer (${(err as Error).message})`;
  }
}

/** Delivers one callback the way Tencent does: tries again after each delay until answered 200, then gives up. */
async function deliver(d: Delivery, o: SendOptions, stats: SendStats): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    stats.requests++;
    const failure = await post(d, o);
    if (failure === null) {
      stats.answered.add(d.callback);
      return;
    }
    if (attempt >= o.retryDelaysMs.length) {
      stats.failures.set(failure, (stats.failures.get(failure) ?? 0) + 1);
      return;
    }
    stats.retries++;
    await sleep(o.retryDelaysMs[attempt]);
  }
}

/** POSTs every delivery of `plan` at its time (from now), with Tencent's retries; resolves once every one is settled. */
export async function sendTraffic(plan: TrafficPlan, o: SendOptions): Promise<SendStats> {
  const stats: SendStats = { deliveries: 0, requests: 0, retries: 0, answered: new Set(), failures: new Map(), elapsedMs: 0 };
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  const progress = o.onProgress ? setInterval(() => o.onProgress?.(stats, plan.deliveries.length), 1000) : null;
  try {
    for (const d of plan.deliveries) {
      const wait = started + d.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      while (inFlight.size >= o.maxInFlight) await Promise.race(inFlight);
      stats.deliveries++;
      const p: Promise<void> = deliver(d, o, stats).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  } finally {
    if (progress) clearInterval(progress);
  }
  stats.elapsedMs = Date.now() - started;
  return stats;
}
