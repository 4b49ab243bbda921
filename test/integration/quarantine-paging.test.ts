import { QuarantineRepository } from '../../src/quarantine/quarantine.repository';
import { startTestApp, type TestApp } from '../support/app';
import { createKey, gql } from '../support/graphql';

let t: TestApp;
let key: string;
const REASONS = Array.from({ length: 7 }, (_, i) => `refusal ${i}`);

const PAGE = `query($first: Int, $after: String, $last: Int, $before: String) {
  rejectedCallbacks(first: $first, after: $after, last: $last, before: $before) {
    totalCount edges { cursor node { reason } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;

async function page(vars: Record<string, unknown>) {
  const res = await gql(t.baseUrl, key, PAGE, vars);
  expect(res.errors).toBeUndefined();
  return res.data!.rejectedCallbacks as {
    totalCount: number;
    edges: { cursor: string; node: { reason: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  };
}

beforeAll(async () => {
  t = await startTestApp();
  key = await createKey(t.db.dataSource, 'operator', null);
  const repo = new QuarantineRepository(t.db.dataSource);
  for (const reason of REASONS) {
    await repo.record({ reason, errorCode: 'INVALID_JSON', sdkAppId: '1400000001', queryString: 'sdkappid=1400000001', rawBody: reason, bodyEncoding: 'utf8', bodyBytes: reason.length, source: '10.0.0.1' });
  }
});
afterAll(() => t.stop());

describe('rejectedCallbacks paging', () => {
  it('answers last: 1 with the oldest refusal and a previous page', async () => {
    const p = await page({ last: 1 });
    expect(p.edges.map((e) => e.node.reason)).toEqual(['refusal 0']);
    expect(p.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    expect(p.totalCount).toBe(7);
  });

  it('walks backward from the oldest refusal to the newest with no gap and no duplicate', async () => {
    const seen: string[] = [];
    let before: string | null = null;
    for (let i = 0; i < 10; i++) {
      const p = await page({ last: 3, before });
      seen.unshift(...p.edges.map((e) => e.node.reason));
      if (!p.pageInfo.hasPreviousPage) break;
      before = p.pageInfo.startCursor;
    }
    expect(seen).toEqual([...REASONS].reverse());
  });

  it('pages back with before from a cursor met walking forward', async () => {
    const forward = await page({ first: 4 });
    expect(forward.edges.map((e) => e.node.reason)).toEqual(['refusal 6', 'refusal 5', 'refusal 4', 'refusal 3']);
    const back = await page({ last: 2, before: forward.pageInfo.endCursor });
    expect(back.edges.map((e) => e.node.reason)).toEqual(['refusal 5', 'refusal 4']);
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
  });
});
