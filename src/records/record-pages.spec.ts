import { recordPages } from './record-pages';
import { filterBody, readFilterReply } from './records-api.schema';
import type { RecordsPage } from './records.client';

const WINDOW = { since: 1_718_000_000, until: 1_718_600_000 };

/** A client over `total` records (numbers), 100 a page, telling TotalNum or not; it logs the pages asked for. */
function fakeClient(total: number, options: { tellTotal?: boolean; failPage?: number } = {}) {
  const asked: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fetchPage = async (_w: typeof WINDOW, page: number, signal?: AbortSignal): Promise<RecordsPage> => {
    asked.push(page);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((r) => setTimeout(r, 1));
    inFlight--;
    signal?.throwIfAborted();
    if (page === options.failPage) throw new Error(`page ${page} failed`);
    const records = Array.from({ length: Math.max(0, Math.min(100, total - (page - 1) * 100)) }, (_, i) => (page - 1) * 100 + i);
    return { page: records.length > 0 ? page : 0, totalNum: options.tellTotal === false ? null : total, records };
  };
  return { asked, fetchPage, maxInFlight: () => maxInFlight };
}

const collect = async (it: AsyncIterable<{ number: number; records: readonly unknown[] }>) => {
  const pages: number[] = [];
  const records: unknown[] = [];
  for await (const p of it) {
    pages.push(p.number);
    records.push(...p.records);
  }
  return { pages, records };
};

describe('recordPages', () => {
  it('reads every page TotalNum implies, in order, a few ahead, and no page beyond', async () => {
    const client = fakeClient(1050);
    const { pages, records } = await collect(recordPages(client, WINDOW));
    expect(pages).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(records).toEqual(Array.from({ length: 1050 }, (_, i) => i));
    expect([...client.asked].sort((a, b) => a - b)).toEqual(pages);
    expect(client.maxInFlight()).toBeLessThanOrEqual(4);
  });

  it('asks once and yields nothing for an empty window', async () => {
    const client = fakeClient(0);
    expect(await collect(recordPages(client, WINDOW))).toEqual({ pages: [], records: [] });
    expect(client.asked).toEqual([1]);
  });

  it('without TotalNum, asks for the next page after a full one and stops at the first short or empty one', async () => {
    const short = fakeClient(250, { tellTotal: false });
    expect((await collect(recordPages(short, WINDOW))).records).toHaveLength(250);
    expect(short.asked).toEqual([1, 2, 3]);
    const exact = fakeClient(200, { tellTotal: false });
    expect((await collect(recordPages(exact, WINDOW))).records).toHaveLength(200);
    expect(exact.asked).toEqual([1, 2, 3]);
  });

  it("fails with the page's error once the pages before it were yielded", async () => {
    const seen: number[] = [];
    const client = fakeClient(1000, { failPage: 4 });
    await expect(
      (async () => {
        for await (const p of recordPages(client, WINDOW)) seen.push(p.number);
      })(),
    ).rejects.toThrow('page 4 failed');
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('the records API shapes', () => {
  it('asks for a page in each generation\'s names', () => {
    expect(filterBody('v4', WINDOW, 3)).toEqual({ StartTime: WINDOW.since, EndTime: WINDOW.until, NumberPerPage: 100, Page: 3 });
    expect(filterBody('v1', WINDOW, 3)).toEqual({ startTimestamp: WINDOW.since, endTimestamp: WINDOW.until, numberPerPage: 100, page: 3 });
  });

  it("reads the replies of Tencent's examples, and v1's envelope in either casing", () => {
    const v4 = { ErrorCode: 0, ErrorInfo: '', ActionStatus: 'OK', RequestId: 'Id-1', Response: { TotalNum: 141, Page: 2, CallRecordList: [{ CallId: 'a' }] } };
    expect(readFilterReply('v4', v4)).toEqual({ errorCode: 0, errorInfo: '', requestId: 'Id-1', totalNum: 141, page: 2, records: [{ CallId: 'a' }] });
    const v1 = { errorCode: 0, errorMessage: 'Success', requestId: 'r1', data: { totalNum: 3, page: 2, callRecordList: [{ callId: 'b' }] } };
    expect(readFilterReply('v1', v1)).toEqual({ errorCode: 0, errorInfo: 'Success', requestId: 'r1', totalNum: 3, page: 2, records: [{ callId: 'b' }] });
    expect(readFilterReply('v1', { ActionStatus: 'FAIL', ErrorCode: '70002', ErrorInfo: 'bad sig' })).toMatchObject({ errorCode: 70002, errorInfo: 'bad sig', records: [] });
    expect(readFilterReply('v4', { ActionStatus: 'FAIL', ErrorCode: 101050, ErrorInfo: 'none' })).toMatchObject({ errorCode: 101050, totalNum: null, page: 0 });
  });

  it('reads anything else as no reply', () => {
    expect(readFilterReply('v4', { ok: true })).toBeNull();
    expect(readFilterReply('v1', { data: {} })).toBeNull();
    expect(readFilterReply('v4', { ErrorCode: 0, Response: { CallRecordList: 'many' } })).toBeNull();
  });
});
