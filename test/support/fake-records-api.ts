import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inflateSync } from 'node:zlib';

// The signer calltrail uses, to verify what calltrail signed (the package has no verify function of its own).
const { Api } = require('tls-sig-api-v2/TLSSigAPIv2.js') as { Api: new (sdkAppId: number, key: string) => { _hmacsha256(id: string, time: number, expire: number, buf: null): string } };

/**
 * A stand-in for Tencent's records API, both generations (docs/trtc-callbacks.md, section 7): the
 * documented URL query (sdkappid, identifier, usersig verified with tls-sig-api-v2, random,
 * contenttype=json), request bodies and replies, page numbers, the 7-day window, a rate limit per
 * app answered with Tencent's rate-limit error, and failures injected on demand.
 */

export interface FakeApp {
  readonly sdkAppId: string;
  readonly secretKey: string;
  readonly identifier: string;
  readonly generation: 'v1' | 'v4';
}
type Json = Record<string, unknown>;
/** An HTTP status, a Tencent ErrorCode, or an answer held back `delayMs` (a timeout for the client). */
type Failure = { readonly status?: number; readonly errorCode?: number; readonly delayMs?: number; times: number };

const DAY = 24 * 60 * 60;
const RATE_LIMITED = { v1: 70005, v4: 60011 };
const PATHS = { v1: '/v1/records/get_records_by_filter', v4: '/v4/call_record_http_srv/get_record_by_filter' };

export class FakeRecordsApi {
  /** Every request that arrived, with its app and the page asked for. */
  readonly arrivals: { sdkAppId: string; at: number; page: number }[] = [];
  /** Replies that were Tencent's rate-limit error. */
  rateLimited = 0;
  /** Answers HTTP 503 to every n-th request (0: never): "a 5xx now and then". */
  failEvery = 0;
  private readonly records = new Map<string, Json[]>();
  private readonly failures = new Map<string, Failure[]>();
  private server: Server | null = null;
  baseUrl = '';

  constructor(
    private readonly apps: readonly FakeApp[],
    private readonly limitPerSecond: number,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  /** Forgets requests, failures still to come and rate-limit replies. */
  reset(): void {
    this.arrivals.length = 0;
    this.failures.clear();
    this.rateLimited = 0;
    this.failEvery = 0;
  }

  setRecords(sdkAppId: string, records: Json[]): void {
    this.records.set(sdkAppId, records);
  }

  /** The next `times` requests for the app fail with an HTTP status or a Tencent ErrorCode. */
  fail(sdkAppId: string, failure: Failure): void {
    this.failures.set(sdkAppId, [...(this.failures.get(sdkAppId) ?? []), { ...failure }]);
  }

  /** The most requests of one app that arrived within any 1000 ms. */
  maxPerSecond(sdkAppId: string): number {
    const times = this.arrivals.filter((a) => a.sdkAppId === sdkAppId).map((a) => a.at);
    let max = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1000) j++;
      max = Math.max(max, i - j + 1);
    }
    return max;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const q = Object.fromEntries(url.searchParams);
    const app = this.apps.find((a) => a.sdkAppId === q.sdkappid);
    const gen = app?.generation ?? (url.pathname.startsWith('/v1/') ? 'v1' : 'v4');
    const reply = (status: number, body: Json | string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const error = (code: number, info: string) =>
      reply(200, gen === 'v1' ? { errorCode: code, errorMessage: info, requestId: 'req-fake' } : { ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: info, RequestId: 'Id-fake' });
    if (req.method !== 'POST' || url.pathname !== PATHS[gen]) return reply(404, 'not found');
    if (!app) return error(gen === 'v1' ? 70001 : 60006, 'unknown sdkappid');
    let body: Json;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    } catch {
      return error(gen === 'v1' ? 70009 : 60003, 'body is not JSON');
    }
    const page = Number((gen === 'v1' ? body.page : body.Page) ?? 1);
    const at = Date.now();
    this.arrivals.push({ sdkAppId: app.sdkAppId, at, page });
    if (this.arrivals.filter((a) => a.sdkAppId === app.sdkAppId && at - a.at < 1000).length > this.limitPerSecond) {
      this.rateLimited++;
      return error(RATE_LIMITED[gen], 'request frequency limited');
    }
    if (this.failEvery > 0 && this.arrivals.length % this.failEvery === 0) return reply(503, 'busy');
    const injected = this.failures.get(app.sdkAppId)?.find((f) => f.times > 0);
    if (injected) {
      injected.times--;
      if (injected.delayMs !== undefined) await new Promise((r) => setTimeout(r, injected.delayMs));
      if (injected.status !== undefined) return reply(injected.status, 'injected');
      if (injected.errorCode === undefined) return reply(200, { ErrorCode: 0, ActionStatus: 'OK', Response: { TotalNum: 0, Page: 0, CallRecordList: [] } });
      return error(injected.errorCode, 'injected error');
    }
    const denied = this.checkQuery(app, q);
    if (denied !== null) return error(denied, 'authentication failed');
    this.page(app, body, reply, error);
  }

  /** The URL query Tencent documents; the UserSig verified as Tencent would. Returns an ErrorCode, or null. */
  private checkQuery(app: FakeApp, q: Record<string, string>): number | null {
    const v1 = app.generation === 'v1';
    if (q.contenttype !== 'json' || !/^\d+$/.test(q.random ?? '') || Number(q.random) > 4294967295) return v1 ? 70001 : 60002;
    if (q.identifier !== app.identifier) return v1 ? 70004 : 70013;
    if (!q.usersig) return 70002;
    let doc: Json;
    try {
      const b64 = q.usersig.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '=');
      doc = JSON.parse(inflateSync(Buffer.from(b64, 'base64')).toString()) as Json;
    } catch {
      return v1 ? 70002 : 70003;
    }
    const [time, expire] = [Number(doc['TLS.time']), Number(doc['TLS.expire'])];
    if (String(doc['TLS.identifier']) !== q.identifier || String(doc['TLS.sdkappid']) !== app.sdkAppId) return v1 ? 70002 : 70013;
    if (new Api(Number(app.sdkAppId), app.secretKey)._hmacsha256(q.identifier, time, expire, null) !== doc['TLS.sig']) return v1 ? 70002 : 70009;
    if (time + expire < this.nowSeconds()) return v1 ? 70003 : 70001;
    return null;
  }

  /** One page: records whose call started in the window (never before Tencent's 7 days), by start time then CallId. */
  private page(app: FakeApp, body: Json, reply: (s: number, b: Json) => void, error: (c: number, i: string) => void): void {
    const v1 = app.generation === 'v1';
    const now = this.nowSeconds();
    if (v1 && body.startTimestamp === undefined) return error(70001, 'startTimestamp is mandatory');
    const since = Math.max(Number((v1 ? body.startTimestamp : body.StartTime) ?? now - 7 * DAY), now - 7 * DAY);
    const until = Number((v1 ? body.endTimestamp : body.EndTime) ?? now);
    const size = Number((v1 ? body.numberPerPage : body.NumberPerPage) ?? (v1 ? 100 : 10));
    const page = Number((v1 ? body.page : body.Page) ?? 1);
    const start = (r: Json) => Number(v1 ? r.startCallTs : r.StartTime);
    const id = (r: Json) => String(v1 ? r.callId : r.CallId);
    const matching = (this.records.get(app.sdkAppId) ?? [])
      .filter((r) => start(r) >= since && start(r) <= until)
      .sort((a, b) => start(a) - start(b) || (id(a) < id(b) ? -1 : 1));
    const list = matching.slice((page - 1) * size, page * size);
    const shownPage = list.length > 0 ? page : 0;
    if (v1) return reply(200, { errorCode: 0, errorMessage: 'Success', requestId: 'req-fake', data: { totalNum: matching.length, page: shownPage, callRecordList: list } });
    reply(200, { ErrorCode: 0, ErrorInfo: '', ActionStatus: 'OK', RequestId: 'Id-fake', Response: { TotalNum: matching.length, Page: shownPage, CallRecordList: list } });
  }
}
