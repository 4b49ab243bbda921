import { startTestApp, type TestApp } from '../support/app';
import { callEvents } from '../support/dataset';
import { createKey, gql, seed } from '../support/graphql';

const APP = '1400000001';
const T = 1_710_028_800;
let t: TestApp;
let key: string;
let made = 0;

/** Stores `n` new calls, each starting later than every call before it. */
async function addCalls(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `p${String(made++).padStart(3, '0')}`);
  await seed(t.db.dataSource, APP, ids.flatMap((callId) => callEvents({ callId, caller: 'Alice', callees: ['Bob'], start: T + made * 60 + Number(callId.slice(1)), outcome: 'missed' })));
  return ids;
}

const PAGE = `query($first: Int, $after: String, $last: Int, $before: String, $order: CallOrder) {
  calls(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    edges { cursor node { callId } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;

async function page(vars: Record<string, unknown>) {
  const res = await gql(t.baseUrl, key, PAGE, vars);
  expect(res.errors).toBeUndefined();
  return res.data!.calls as { edges: { cursor: string; node: { callId: string } }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } };
}

beforeAll(async () => {
  t = await startTestApp();
  key = await createKey(t.db.dataSource, 'pager', [APP]);
});
afterAll(() => t.stop());

describe('cursor pagination', () => {
  it('walks forward with no gap and no duplicate while newer calls keep arriving', async () => {
    const initial = await addCalls(30);
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const p = await page({ first: 7, after });
      seen.push(...p.edges.map((e) => e.node.callId));
      expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
      await addCalls(3); // newer calls land before the first page, never inside the walk
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    expect(seen).toEqual([...initial].reverse());
  });

  it('walks backward from the oldest call to the newest, picking up calls that arrived meanwhile', async () => {
    const seen: string[] = [];
    let before: string | null = null;
    let arrived: string[] = [];
    for (let i = 0; i < 40; i++) {
      const p = await page({ last: 9, before });
      seen.unshift(...p.edges.map((e) => e.node.callId));
      if (i === 2) arrived = await addCalls(4);
      if (!p.pageInfo.hasPreviousPage) break;
      before = p.pageInfo.startCursor;
    }
    const all = (await page({ first: 500 })).edges.map((e) => e.node.callId);
    expect(arrived).toHaveLength(4);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('pages oldest first with orderBy STARTED_AT_ASC', async () => {
    const all = (await page({ first: 500, order: 'STARTED_AT_ASC' })).edges.map((e) => e.node.callId);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const p = await page({ first: 25, after, order: 'STARTED_AT_ASC' });
      seen.push(...p.edges.map((e) => e.node.callId));
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
    expect(seen).toEqual([...seen].sort());
  });

  it('reports page info at both ends', async () => {
    const first = await page({ first: 2 });
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const next = await page({ first: 2, after: first.pageInfo.endCursor });
    expect(next.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const oldest = await page({ last: 2 });
    expect(oldest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect(oldest.edges.map((e) => e.node.callId)).toEqual(['p001', 'p000']);
  });

  it('refuses first together with last', async () => {
    const res = await gql(t.baseUrl, key, PAGE, { first: 2, last: 2 });
    expect(res.errors?.[0]).toMatchObject({ message: 'last: expected to be omitted when first is given, got both', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
