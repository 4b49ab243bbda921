import { ApiKeyRepository } from '../../src/api-keys/api-key.repository';
import { startTestApp, type TestApp } from '../support/app';
import { CountingLogger, openTestDatabase, type TestDatabase } from '../support/database';
import { callEvents } from '../support/dataset';
import { createKey, gql, seed } from '../support/graphql';

const A = '1400000001';
const B = '1400000002';
const T = 1_710_028_800; // 2024-03-10T00:00:00Z
const iso = (unix: number) => new Date(unix * 1000).toISOString();

const logger = new CountingLogger();
let db: TestDatabase;
let t: TestApp;
let keyA: string;
let keyB: string;
let keyAll: string;

beforeAll(async () => {
  db = await openTestDatabase(logger);
  // No periodic live reads or rollup refreshes: the statement-count test must see only the request's own statements.
  t = await startTestApp({ LIVE_POLL_MS: '60000', STATS_ROLLUP_INTERVAL_MS: '3600000' }, db);
  const ds = db.dataSource;
  await seed(ds, A, [
    ...callEvents({ callId: 'a1', caller: 'Alice', callees: ['Bob'], start: T, outcome: 'answered', ring: 5, talk: 60 }),
    ...callEvents({ callId: 'a2', caller: 'Alice', callees: ['Carol'], media: 'video', start: T + 3600, outcome: 'missed' }),
    ...callEvents({ callId: 'a3', caller: 'Bob', callees: ['Alice'], start: T + 7200, outcome: 'rejected' }),
    ...callEvents({ callId: 'a4', caller: 'Alice', callees: ['Bob', 'Carol'], media: 'video', type: 'group', start: T + 86400, outcome: 'answered', ring: 10, talk: 120 }),
    ...callEvents({ callId: 'a5', caller: 'Carol', callees: ['Bob'], start: T + 90000, outcome: 'ongoing' }),
    ...callEvents({ callId: 'a6', caller: 'Dan', callees: ['Erin'], start: T + 57599, outcome: 'answered', talk: 30 }),
    ...callEvents({ callId: 'a7', caller: 'Dan', callees: ['Erin'], start: T + 57600, outcome: 'missed' }),
  ]);
  await seed(ds, B, callEvents({ callId: 'b1', caller: 'Alice', callees: ['Bob'], start: T + 100, outcome: 'answered', talk: 45 }));
  keyA = await createKey(ds, 'app-a', [A]);
  keyB = await createKey(ds, 'app-b', [B]);
  keyAll = await createKey(ds, 'all', null);
});
afterAll(async () => {
  await t.stop();
  await db.drop();
});

const callIds = async (filter: Record<string, unknown>, key = keyA) => {
  const res = await gql(t.baseUrl, key, `query($f: CallFilter) { calls(filter: $f) { edges { node { callId } } totalCount } }`, { f: filter });
  expect(res.errors).toBeUndefined();
  const ids = res.data!.calls.edges.map((e: { node: { callId: string } }) => e.node.callId);
  expect(res.data!.calls.totalCount).toBe(ids.length);
  return ids;
};

describe('authentication', () => {
  const query = '{ calls { totalCount } }';
  it.each([
    ['no key', null, 'authorization: expected "Bearer <api key>", got nothing'],
    ['an unknown key', 'ctk_not-a-real-key', 'authorization: expected an active API key, got an unknown or revoked key'],
  ])('refuses %s with UNAUTHENTICATED', async (_name, key, message) => {
    const res = await gql(t.baseUrl, key, query);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]).toMatchObject({ message, extensions: { code: 'UNAUTHENTICATED' } });
    expect(res.data).toBeNull();
  });

  it('refuses a key once it is revoked', async () => {
    const key = await createKey(db.dataSource, 'short-lived', [A]);
    expect((await gql(t.baseUrl, key, query)).data).toEqual({ calls: { totalCount: 7 } });
    expect(await new ApiKeyRepository(db.dataSource).revoke('short-lived')).toBe(true);
    // The revocation reaches the replica's key cache through NOTIFY, a moment after the commit.
    let code: unknown;
    for (let i = 0; i < 40 && code !== 'UNAUTHENTICATED'; i++) {
      code = (await gql(t.baseUrl, key, query)).errors?.[0].extensions?.code;
      if (code !== 'UNAUTHENTICATED') await new Promise((r) => setTimeout(r, 50));
    }
    expect(code).toBe('UNAUTHENTICATED');
  });

  it('records when a key was last used', async () => {
    const [row] = await db.dataSource.query(`SELECT last_used_at FROM api_keys WHERE name = 'app-a'`);
    await gql(t.baseUrl, keyA, query);
    const [after] = await db.dataSource.query(`SELECT last_used_at FROM api_keys WHERE name = 'app-a'`);
    expect(after.last_used_at).toBeInstanceOf(Date);
    expect(row.last_used_at === null || after.last_used_at >= row.last_used_at).toBe(true);
  });
});

describe('calls', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['no filter (newest first)', {}, ['a5', 'a4', 'a7', 'a6', 'a3', 'a2', 'a1']],
    ['userId: calls the user took part in', { userId: 'Alice' }, ['a4', 'a3', 'a2', 'a1']],
    ['userId with role CALLER', { userId: 'Alice', role: 'CALLER' }, ['a4', 'a2', 'a1']],
    ['userId with role CALLEE', { userId: 'Alice', role: 'CALLEE' }, ['a3']],
    ['mediaType', { mediaType: 'VIDEO' }, ['a4', 'a2']],
    ['callType', { callType: 'GROUP' }, ['a4']],
    ['status', { status: ['ONGOING'] }, ['a5']],
    ['result', { result: ['NOT_ANSWER', 'REJECT'] }, ['a7', 'a3', 'a2']],
    ['startedAt (from inclusive, to exclusive)', { startedAt: { from: iso(T + 3600), to: iso(T + 57600) } }, ['a6', 'a3', 'a2']],
    ['startedAt from only', { startedAt: { from: iso(T + 86400) } }, ['a5', 'a4']],
    ['callId', { callId: 'a3' }, ['a3']],
    ['roomId', { roomId: 'room-a5' }, ['a5']],
    ['sdkAppId of the key', { sdkAppId: A, callType: 'GROUP' }, ['a4']],
    ['combined filters', { userId: 'Bob', mediaType: 'AUDIO', result: ['NORMAL_END'] }, ['a1']],
  ])('filters by %s', async (_name, filter, expected) => {
    expect(await callIds(filter)).toEqual(expected);
  });

  it('orders oldest first on request', async () => {
    const res = await gql(t.baseUrl, keyA, `{ calls(orderBy: STARTED_AT_ASC, first: 3) { edges { node { callId } } } }`);
    expect(res.data!.calls.edges.map((e: any) => e.node.callId)).toEqual(['a1', 'a2', 'a3']);
  });

  it('serves the folded call with participants and events', async () => {
    const res = await gql(t.baseUrl, keyA, `{ call(callId: "a1") { sdkAppId callId roomId callType mediaType status result callerId
      startedAt acceptedAt endedAt ringSeconds talkSeconds participantCount lastEventAt
      participants { userId role outcome platform answeredAt leftAt call { callId } }
      events { event rawEvent role userId cursor call { callId } } } }`);
    expect(res.errors).toBeUndefined();
    const call = res.data!.call;
    expect(call).toMatchObject({
      sdkAppId: A, callId: 'a1', roomId: 'room-a1', callType: 'SINGLE', mediaType: 'AUDIO', status: 'ENDED', result: 'NORMAL_END',
      callerId: 'Alice', startedAt: iso(T), acceptedAt: iso(T + 5), endedAt: iso(T + 65), ringSeconds: 5, talkSeconds: 60, participantCount: 2,
    });
    expect(call.participants).toEqual([
      { userId: 'Alice', role: 'CALLER', outcome: 'ENDED', platform: 'Android', answeredAt: iso(T + 5), leftAt: iso(T + 65), call: { callId: 'a1' } },
      { userId: 'Bob', role: 'CALLEE', outcome: 'ENDED', platform: 'Android', answeredAt: iso(T + 5), leftAt: iso(T + 65), call: { callId: 'a1' } },
    ]);
    expect(call.events.map((e: any) => e.event)).toEqual(['START_CALL', 'RECEIVE_CALL', 'ACCEPT_CALL', 'CALL_ACCEPTED', 'CALL_END', 'CALL_END', 'CALL_RESULT']);
    expect(call.events.every((e: any) => e.call.callId === 'a1')).toBe(true);
  });

  it('answers null for an unknown call', async () => {
    expect((await gql(t.baseUrl, keyA, `{ call(callId: "nope") { id } }`)).data).toEqual({ call: null });
  });

  it('refuses role without userId with a clear message', async () => {
    const res = await gql(t.baseUrl, keyA, `{ calls(filter: { role: CALLER }) { totalCount } }`);
    expect(res.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'filter.role' } });
    expect(res.errors?.[0].message).toMatch(/^filter\.role: expected together with filter\.userId/);
  });

  it('refuses a malformed cursor, naming the argument', async () => {
    const res = await gql(t.baseUrl, keyA, `{ calls(after: "garbage") { totalCount } }`);
    expect(res.errors?.[0]).toMatchObject({ message: 'after: expected a call cursor from this API, got "garbage"', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it.each([
    ['a bad time', ['call', 'yesterday', '1']],
    ['a date PostgreSQL rejects', ['call', '2024-02-30T00:00:00.000Z', '1']],
    ['an id beyond bigint', ['call', '2024-03-10T00:00:00.000Z', '99999999999999999999']],
    ['a year past 9999', ['call', '+010000-01-01T00:00:00.000Z', '1']],
    ['a year before 0', ['call', '-000001-01-01T00:00:00.000Z', '1']],
  ])('refuses a forged cursor with %s as BAD_USER_INPUT, not an internal error', async (_name, values) => {
    const cursor = Buffer.from(JSON.stringify(values)).toString('base64url');
    const res = await gql(t.baseUrl, keyA, `query($c: String) { calls(before: $c) { totalCount } }`, { c: cursor });
    expect(res.errors?.[0]).toMatchObject({ message: 'before: expected a call cursor from this API, got one with values that do not fit', extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('treats an empty string filter as no constraint', async () => {
    expect(await callIds({ userId: '', sdkAppId: '' })).toHaveLength(7);
  });
});

describe('participants', () => {
  const history = async (filter: Record<string, unknown>) => {
    const res = await gql(t.baseUrl, keyA, `query($f: ParticipantFilter) { participants(filter: $f) { totalCount edges { node { userId role outcome call { callId } } } } }`, { f: filter });
    expect(res.errors).toBeUndefined();
    expect(res.data!.participants.totalCount).toBe(res.data!.participants.edges.length);
    return res.data!.participants.edges.map((e: any) => `${e.node.call.callId}:${e.node.role}:${e.node.outcome}`);
  };

  it.each<[string, Record<string, unknown>, string[]]>([
    ["a user's history from their side", { userId: 'Alice' }, ['a4:CALLER:ENDED', 'a3:CALLEE:REJECTED', 'a2:CALLER:NO_ANSWER', 'a1:CALLER:ENDED']],
    ['outcome', { userId: 'Alice', outcome: ['REJECTED', 'NO_ANSWER'] }, ['a3:CALLEE:REJECTED', 'a2:CALLER:NO_ANSWER']],
    ['role', { userId: 'Bob', role: 'CALLEE' }, ['a5:CALLEE:ACCEPTED', 'a4:CALLEE:ENDED', 'a1:CALLEE:ENDED']],
    ['mediaType', { userId: 'Carol', mediaType: 'VIDEO' }, ['a4:CALLEE:ENDED', 'a2:CALLEE:NO_ANSWER']],
    ['callType (ties by user id, descending)', { callType: 'GROUP' }, ['a4:CALLEE:ENDED', 'a4:CALLEE:ENDED', 'a4:CALLER:ENDED']],
    ['startedAt', { userId: 'Erin', startedAt: { to: iso(T + 57600) } }, ['a6:CALLEE:ENDED']],
    ['every missed call of a user', { userId: 'Erin', outcome: ['NO_ANSWER'] }, ['a7:CALLEE:NO_ANSWER']],
  ])('filters by %s', async (_name, filter, expected) => {
    expect(await history(filter)).toEqual(expected);
  });
});

describe('callEvents', () => {
  it('lists events in position order with filters', async () => {
    const res = await gql(t.baseUrl, keyA, `{ callEvents(filter: { events: [START_CALL], mediaType: AUDIO }) { totalCount edges { cursor node { callId event cursor } } } }`);
    const edges = res.data!.callEvents.edges;
    expect(edges.map((e: any) => e.node.callId)).toEqual(['a1', 'a3', 'a5', 'a6', 'a7']);
    expect(edges.every((e: any) => e.cursor === e.node.cursor)).toBe(true);
    expect(res.data!.callEvents.totalCount).toBe(5);
  });

  it.each<[string, Record<string, unknown>, number]>([
    ['callId', { callId: 'a2' }, 5],
    ['userId and role', { userId: 'Bob', role: 'CALLER' }, 3],
    ['callType', { callType: 'GROUP' }, 10],
    ['eventTime', { eventTime: { from: iso(T), to: iso(T + 6) } }, 4],
  ])('filters by %s', async (_name, filter, expected) => {
    const res = await gql(t.baseUrl, keyA, `query($f: CallEventFilter) { callEvents(filter: $f, first: 500) { totalCount edges { node { id } } } }`, { f: filter });
    expect(res.errors).toBeUndefined();
    expect(res.data!.callEvents.edges).toHaveLength(expected);
    expect(res.data!.callEvents.totalCount).toBe(expected);
  });
});

describe('callStats', () => {
  const STATS = `query($f: CallFilter, $g: [CallStatsDimension!], $i: StatsInterval, $tz: String) {
    callStats(filter: $f, groupBy: $g, interval: $i, timeZone: $tz) {
      bucket mediaType calls answered answerRate missed totalTalkSeconds avgTalkSeconds p50TalkSeconds p95TalkSeconds } }`;

  it('aggregates per UTC day, values computed by hand', async () => {
    const res = await gql(t.baseUrl, keyA, STATS, { i: 'DAY' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.callStats).toEqual([
      { bucket: iso(T), mediaType: null, calls: 5, answered: 2, answerRate: 0.4, missed: 2, totalTalkSeconds: 90, avgTalkSeconds: 45, p50TalkSeconds: 45, p95TalkSeconds: 58.5 },
      { bucket: iso(T + 86400), mediaType: null, calls: 2, answered: 2, answerRate: 1, missed: 0, totalTalkSeconds: 120, avgTalkSeconds: 120, p50TalkSeconds: 120, p95TalkSeconds: 120 },
    ]);
  });

  it('puts bucket edges in the requested time zone', async () => {
    // a6 starts 15:59:59Z (23:59:59 in Shanghai), a7 at 16:00:00Z (00:00 the next day in Shanghai).
    const res = await gql(t.baseUrl, keyA, STATS, { i: 'DAY', tz: 'Asia/Shanghai' });
    expect(res.data!.callStats.map((r: any) => [r.bucket, r.calls, r.answered, r.missed, r.totalTalkSeconds])).toEqual([
      [iso(T - 8 * 3600), 4, 2, 1, 90],
      [iso(T + 16 * 3600), 3, 2, 1, 120],
    ]);
  });

  it('groups by a dimension', async () => {
    const res = await gql(t.baseUrl, keyA, STATS, { g: ['MEDIA_TYPE'] });
    expect(res.data!.callStats.map((r: any) => [r.bucket, r.mediaType, r.calls, r.answered, r.missed, r.totalTalkSeconds])).toEqual([
      [null, 'AUDIO', 5, 3, 1, 90],
      [null, 'VIDEO', 2, 1, 1, 120],
    ]);
  });

  it('applies the call filter', async () => {
    const res = await gql(t.baseUrl, keyA, STATS, { f: { userId: 'Dan' } });
    expect(res.data!.callStats).toEqual([
      { bucket: null, mediaType: null, calls: 2, answered: 1, answerRate: 0.5, missed: 1, totalTalkSeconds: 30, avgTalkSeconds: 30, p50TalkSeconds: 30, p95TalkSeconds: 30 },
    ]);
  });

  it('refuses an unknown time zone, naming it', async () => {
    const res = await gql(t.baseUrl, keyA, STATS, { i: 'DAY', tz: 'Mars/Olympus' });
    expect(res.errors?.[0]).toMatchObject({ message: 'timeZone: expected an IANA time zone such as "Asia/Shanghai", got "Mars/Olympus"', extensions: { code: 'BAD_USER_INPUT' } });
  });
});

describe('tenancy', () => {
  it('shows a key for app B nothing of app A', async () => {
    expect(await callIds({}, keyB)).toEqual(['b1']);
    expect(await callIds({ sdkAppId: A }, keyB)).toEqual([]);
    expect(await callIds({ userId: 'Alice' }, keyB)).toEqual(['b1']);
    expect((await gql(t.baseUrl, keyB, `{ call(callId: "a1") { id } }`)).data).toEqual({ call: null });
    expect((await gql(t.baseUrl, keyB, `{ call(callId: "a1", sdkAppId: "${A}") { id } }`)).data).toEqual({ call: null });
    const parts = await gql(t.baseUrl, keyB, `{ participants(filter: { userId: "Alice" }) { totalCount edges { node { call { callId sdkAppId } } } } }`);
    expect(parts.data!.participants).toEqual({ totalCount: 1, edges: [{ node: { call: { callId: 'b1', sdkAppId: B } } }] });
    const events = await gql(t.baseUrl, keyB, `{ callEvents(first: 500) { totalCount edges { node { sdkAppId call { sdkAppId participants { userId } events { sdkAppId } } } } } }`);
    expect(events.data!.callEvents.totalCount).toBe(7);
    expect(JSON.stringify(events.data)).not.toContain(A);
    const stats = await gql(t.baseUrl, keyB, `{ callStats { calls answered totalTalkSeconds } }`);
    expect(stats.data!.callStats).toEqual([{ calls: 1, answered: 1, totalTalkSeconds: 45 }]);
  });

  it('lets an all-apps key see both apps and require sdkAppId for an ambiguous call id', async () => {
    expect((await callIds({ userId: 'Alice' }, keyAll)).sort()).toEqual(['a1', 'a2', 'a3', 'a4', 'b1']);
    await seed(db.dataSource, B, callEvents({ callId: 'a1', caller: 'Zed', callees: ['Yan'], start: T - 1000, outcome: 'missed' }));
    const ambiguous = await gql(t.baseUrl, keyAll, `{ call(callId: "a1") { id } }`);
    expect(ambiguous.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'sdkAppId' } });
    expect((await gql(t.baseUrl, keyAll, `{ call(callId: "a1", sdkAppId: "${B}") { callerId } }`)).data).toEqual({ call: { callerId: 'Zed' } });
    expect((await gql(t.baseUrl, keyA, `{ call(callId: "a1") { callerId } }`)).data).toEqual({ call: { callerId: 'Alice' } });
    await db.dataSource.query(`DELETE FROM calls WHERE sdk_app_id = $1 AND call_id = 'a1'`, [B]);
    await db.dataSource.query(`DELETE FROM call_events WHERE sdk_app_id = $1 AND call_id = 'a1'`, [B]);
  });

  it('shows the quarantine only to all-apps keys', async () => {
    const scoped = await gql(t.baseUrl, keyA, `{ rejectedCallbacks { totalCount } }`);
    expect(scoped.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    await fetch(`${t.baseUrl}/callback?sdkappid=${A}`, { method: 'POST', body: 'not json' });
    const all = await gql(t.baseUrl, keyAll, `{ rejectedCallbacks(first: 5) { totalCount edges { node { errorCode reason rawBody times } } } }`);
    expect(all.data!.rejectedCallbacks).toEqual({ totalCount: 1, edges: [{ node: { errorCode: 'INVALID_JSON', reason: expect.stringContaining('body: expected a JSON object'), rawBody: 'not json', times: 1 } }] });
  });
});

describe('limits', () => {
  it('refuses a page larger than 500', async () => {
    const res = await gql(t.baseUrl, keyA, `{ calls(first: 501) { totalCount } }`);
    expect(res.errors?.[0]).toMatchObject({ message: 'first: expected an integer from 0 to 500, got 501', extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
  });

  it('refuses a query nested too deep', async () => {
    const deep = `{ calls { edges { node { participants { call { participants { call { participants { call { participants { call { id } } } } } } } } } } } }`;
    const res = await gql(t.baseUrl, keyA, deep);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].message).toMatch(/depth limit/i);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses too many aliases', async () => {
    const aliases = Array.from({ length: 25 }, (_, i) => `c${i}: call(callId: "a1") { id }`).join(' ');
    const res = await gql(t.baseUrl, keyA, `{ ${aliases} }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].message).toMatch(/aliases/i);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a query that costs too much', async () => {
    const fields = 'id callId roomId status result callerId startedAt endedAt';
    const node = `{ ${fields} participants { userId role outcome call { ${fields} events { id event rawEvent userId call { ${fields} } } } } }`;
    const res = await gql(t.baseUrl, keyA, `{ calls(first: 500) { edges { node ${node} } } callEvents(first: 500) { edges { node { call ${node} } } } }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].message).toMatch(/cost limit of 100000 exceeded/i);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a query with too many tokens', async () => {
    const res = await gql(t.baseUrl, keyA, `{ calls(filter: { callId: "a1" }) { totalCount ${'__typename '.repeat(2100)} } }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].message).toMatch(/more that 2000 tokens/i);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });
});

describe('nested fields', () => {
  it("reads a user's history with its calls in one statement, the same rows as without them", async () => {
    const history = (fields: string) => `{ participants(filter: { userId: "Alice" }, first: 10) { edges { cursor node { userId role ${fields} } } } }`;
    await gql(t.baseUrl, keyA, '{ __typename }'); // the key's scope is cached from here on
    const before = logger.statements;
    const withCalls = await gql(t.baseUrl, keyA, history('call { callId status sdkAppId participants { userId } }'));
    const statements = logger.statements - before;
    const plain = await gql(t.baseUrl, keyA, history(''));
    expect(withCalls.errors).toBeUndefined();
    const rows = withCalls.data!.participants.edges;
    expect(rows.map((e: { node: { call: { callId: string } } }) => e.node.call.callId)).toEqual(['a4', 'a3', 'a2', 'a1']);
    expect(rows.map(({ cursor, node: { userId, role } }: any) => ({ cursor, userId, role }))).toEqual(plain.data!.participants.edges.map(({ cursor, node }: any) => ({ cursor, ...node })));
    expect(rows[0].node.call).toMatchObject({ sdkAppId: A, status: 'ENDED' });
    expect(statements).toBe(1); // participants joined with calls, the calls' participants in the same statement
  });

  it('reads only the columns the selection needs, and a narrowed call never stands in for a whole one', async () => {
    const every = 'id sdkAppId callId roomId callType mediaType status result callerId startedAt acceptedAt endedAt ringSeconds talkSeconds participantCount lastEventAt';
    const whole = await gql(t.baseUrl, keyA, `{ call(callId: "a4") { ${every} } }`);
    expect(whole.errors).toBeUndefined();
    expect(whole.data!.call).toMatchObject({ callId: 'a4', status: 'ENDED', talkSeconds: 120, participantCount: 3 });

    // Through the resolvers (a directive is not compiled) and compiled (src/graphql/compiled-reads.ts).
    for (const [directive, column] of [['@include(if: true)', 'c.status AS "call.status"'], ['', 'c.status AS "n1_0"']]) {
      const before = logger.statements;
      const narrow = await gql(t.baseUrl, keyA, `{ participants(filter: { userId: "Alice" }, first: 1) { edges ${directive} { node { role call { status } } } } }`);
      expect(narrow.data!.participants.edges[0].node.call).toEqual({ status: 'ENDED' });
      const [sql] = logger.since(before).filter((q) => q.includes('FROM call_participants p JOIN calls c'));
      expect(sql).toContain(column);
      expect(sql).not.toMatch(/c\.room_id|c\.talk_seconds|p\.platform|p\.left_at/);
    }

    // The same call through a narrowed history, a narrowed listing and the events' loader, in one request.
    const mixed = await gql(
      t.baseUrl,
      keyA,
      `{ participants(filter: { userId: "Alice" }, first: 1) { edges { node { call { status } } } }
         calls(first: 1, filter: { callId: "a4" }) { edges { node { talkSeconds ...Every } } }
         callEvents(filter: { callId: "a4" }, first: 1) { edges { node { call { ...Every } } } } }
       fragment Every on Call { ${every} }`,
    );
    expect(mixed.errors).toBeUndefined();
    expect(mixed.data!.calls.edges[0].node).toEqual(whole.data!.call);
    expect(mixed.data!.callEvents.edges[0].node.call).toEqual(whole.data!.call);
  });

  it('reads one call with its participants and events in one statement, the same as the batched loaders read them', async () => {
    // Sub-millisecond times and nulls, which the one-statement read carries as text.
    await db.dataSource.query(`UPDATE call_participants SET invited_at = '2024-03-11 00:00:00.123456+00', platform = NULL, left_at = NULL WHERE sdk_app_id = $1 AND call_id = 'a4' AND user_id = 'Carol'`, [A]);
    await db.dataSource.query(`UPDATE call_events SET event_time = event_time + interval '987 microseconds', user_id = NULL, client_ip = '203.0.113.9' WHERE sdk_app_id = $1 AND call_id = 'a4' AND event_type = 'CALL_END'`, [A]);
    const whole = `fragment Whole on Call { id sdkAppId callId status startedAt participantCount
      participants { userId role outcome platform invitedAt answeredAt leftAt }
      events { id cursor sdkAppId callId userId role event rawEvent callType mediaType callResult eventTime receivedAt platform clientIp } }`;
    await gql(t.baseUrl, keyA, '{ __typename }'); // the key's scope is cached from here on
    for (const callId of ['a1', 'a4', 'a5']) {
      const before = logger.statements;
      const one = await gql(t.baseUrl, keyA, `query($c: String!) { call(callId: $c) { ...Whole } } ${whole}`, { c: callId });
      expect(logger.statements - before).toBe(1);
      expect(one.errors).toBeUndefined();
      // The same call through the events' loader, its lists through the participants' and events' loaders.
      const loaded = await gql(t.baseUrl, keyA, `query($c: String!) { callEvents(filter: { callId: $c }, first: 1) { edges { node { call { ...Whole } } } } } ${whole}`, { c: callId });
      expect(loaded.errors).toBeUndefined();
      expect(one.data!.call.events.length).toBeGreaterThan(0);
      expect(one.data!.call).toEqual(loaded.data!.callEvents.edges[0].node.call);
    }
    const a4 = (await gql(t.baseUrl, keyA, `{ call(callId: "a4") { participants { userId invitedAt platform } events { event userId eventTime clientIp } } }`)).data!.call;
    expect(a4.participants).toContainEqual({ userId: 'Carol', invitedAt: '2024-03-11T00:00:00.123Z', platform: null });
    const ends = a4.events.filter((e: { event: string }) => e.event === 'CALL_END');
    expect(ends).toHaveLength(3); // one per participant of the group call
    for (const end of ends) expect(end).toEqual({ event: 'CALL_END', userId: null, clientIp: '203.0.113.9', eventTime: expect.stringMatching(/:\d\d\.000Z$/) });
    // Another app's key sees none of it.
    expect((await gql(t.baseUrl, keyB, `{ call(callId: "a4") { participants { userId } events { event } } }`)).data).toEqual({ call: null });
  });

  it('reads a page of calls, or a history, with the calls\' participants and events in one statement, the same as the loaders read them', async () => {
    const lists = `participants { userId role outcome platform invitedAt answeredAt leftAt }
      events { id cursor sdkAppId callId userId role event eventTime receivedAt clientIp }`;
    // The same call through the events' loader, its lists through the participants' and events' loaders.
    const loaded = async (key: string, sdkAppId: string, callId: string) => {
      const res = await gql(t.baseUrl, key, `query($a: String, $c: String!) { callEvents(filter: { sdkAppId: $a, callId: $c }, first: 1) { edges { node { call { callId status ${lists} } } } } }`, { a: sdkAppId, c: callId });
      expect(res.errors).toBeUndefined();
      return res.data!.callEvents.edges[0].node.call;
    };
    for (const key of [keyA, keyB, keyAll]) {
      await gql(t.baseUrl, key, '{ __typename }'); // the key's scope is cached from here on
      const before = logger.statements;
      const page = await gql(t.baseUrl, key, `{ calls(first: 10) { edges { cursor node { sdkAppId callId status ${lists} } } } }`);
      expect(logger.statements - before).toBe(1);
      expect(page.errors).toBeUndefined();
      const plain = await gql(t.baseUrl, key, '{ calls(first: 10) { edges { cursor node { callId } } } }');
      expect(page.data!.calls.edges.map((e: any) => [e.cursor, e.node.callId])).toEqual(plain.data!.calls.edges.map((e: any) => [e.cursor, e.node.callId]));
      for (const { node } of page.data!.calls.edges) {
        const { sdkAppId, ...call } = node;
        expect(call.participants.length).toBeGreaterThan(1);
        expect(call.events.every((e: { sdkAppId: string; callId: string }) => e.sdkAppId === sdkAppId && e.callId === call.callId)).toBe(true);
        expect(call).toEqual(await loaded(key, sdkAppId, call.callId));
      }
    }
    // A history whose calls show who else was in them, and what happened: one statement as well.
    const before = logger.statements;
    const history = await gql(t.baseUrl, keyA, `{ participants(filter: { userId: "Alice" }, first: 10) { edges { node { role call { callId status ${lists} } } } } }`);
    expect(logger.statements - before).toBe(1);
    expect(history.errors).toBeUndefined();
    expect(history.data!.participants.edges).toHaveLength(4);
    for (const { node } of history.data!.participants.edges) expect(node.call).toEqual(await loaded(keyA, A, node.call.callId));

    // Narrowed lists: only the selected columns and the keys travel, and nested `call` still finds its call.
    const narrowStart = logger.statements;
    const narrow = await gql(t.baseUrl, keyA, `{ calls(first: 10) { edges { node { callId participants { userId call { callId } } events { cursor event } } } } }`);
    expect(narrow.errors).toBeUndefined();
    const [sql] = logger.since(narrowStart).filter((q) => q.includes('FROM calls c'));
    expect([...sql.matchAll(/json_build_array\(([^)]*)\)/g)].map((m) => m[1])).toEqual([
      'p.call_ref::text, p.sdk_app_id, p.call_id, p.user_id',
      'e.position::text, e.sdk_app_id, e.call_id, e.event_type',
    ]);
    for (const { node } of narrow.data!.calls.edges) {
      const whole = await loaded(keyA, A, node.callId);
      expect(node.participants).toEqual(whole.participants.map((p: { userId: string }) => ({ userId: p.userId, call: { callId: node.callId } })));
      expect(node.events).toEqual(whole.events.map((e: { cursor: string; event: string }) => ({ cursor: e.cursor, event: e.event })));
    }
  });

  it('counts without reading a page when only totalCount is selected, and still refuses a bad cursor', async () => {
    await gql(t.baseUrl, keyAll, '{ __typename }'); // the key's scope is cached from here on
    const listings = (since: number) => logger.since(since).filter((q) => / FROM (calls c|call_participants p|rejected_callbacks r)\b.* ORDER BY /s.test(q));
    const query = (listing: string) =>
      `{ calls(filter: { sdkAppId: "${A}" }) { totalCount ${listing} } participants(filter: { userId: "Alice" }) { n: totalCount ${listing} }
         joined: participants(filter: { userId: "Alice" }) { ... on ParticipantConnection { totalCount } edges @skip(if: true) { node { call { callId } } } }
         rejectedCallbacks { totalCount ${listing} } }`;
    const before = logger.statements;
    const counted = await gql(t.baseUrl, keyAll, query(''));
    expect(counted.errors).toBeUndefined();
    expect(listings(before)).toEqual([]);
    expect(logger.since(before).filter((q) => q.startsWith('SELECT count(*)'))).toHaveLength(4);
    // The same counts as with the pages read.
    const read = await gql(t.baseUrl, keyAll, query('edges { cursor }'));
    const { calls, participants, rejectedCallbacks } = read.data!;
    expect(calls.edges.length).toBeGreaterThan(0);
    expect(counted.data).toEqual({
      calls: { totalCount: calls.edges.length },
      participants: { n: participants.edges.length },
      joined: { totalCount: participants.edges.length },
      rejectedCallbacks: { totalCount: rejectedCallbacks.edges.length },
    });

    // pageInfo alone needs the page's rows: it is read.
    const paged = logger.statements;
    const info = await gql(t.baseUrl, keyAll, `{ calls(first: 2, filter: { sdkAppId: "${A}" }) { pageInfo { hasNextPage } } }`);
    expect(info.data).toEqual({ calls: { pageInfo: { hasNextPage: true } } });
    expect(listings(paged)).toHaveLength(1);

    for (const listing of ['calls', 'participants', 'callEvents', 'rejectedCallbacks']) {
      const bad = await gql(t.baseUrl, keyAll, `{ ${listing}(after: "not-a-cursor") { totalCount } }`);
      expect(bad.errors?.[0]).toMatchObject({ message: expect.stringMatching(/^after: expected /), extensions: { code: 'BAD_USER_INPUT' } });
    }
  });

  it('take a constant number of SQL statements whatever the page size', async () => {
    const D = '1400000004';
    const keyD = await createKey(db.dataSource, 'app-d', [D]);
    const bodies = Array.from({ length: 120 }, (_, i) => callEvents({ callId: `d${i}`, caller: `u${i}`, callees: [`v${i}`], start: T + i * 60, outcome: 'answered' })).flat();
    await seed(db.dataSource, D, bodies);
    await new Promise((r) => setTimeout(r, 300)); // let the live hub finish reading the seeded events
    const query = `query($n: Int) { calls(first: $n) { edges { node { callId participants { userId call { callId } } events { event call { callId } } } } } }`;
    const measure = async (n: number) => {
      const before = logger.statements;
      const res = await gql(t.baseUrl, keyD, query, { n });
      expect(res.errors).toBeUndefined();
      expect(res.data!.calls.edges).toHaveLength(n);
      expect(res.data!.calls.edges[n - 1].node.events).toHaveLength(7);
      return logger.statements - before;
    };
    await measure(1); // the key's scope is looked up once, then cached
    const ten = await measure(10);
    const hundred = await measure(100);
    expect(hundred).toBe(ten);
    expect(hundred).toBe(2); // calls with their participants and events, then the calls of nested `call` (one loader)
  });
});
