import fc from 'fast-check';
import { startTestApp, type TestApp } from '../support/app';
import { CountingLogger, openTestDatabase, type TestDatabase } from '../support/database';
import { callEvents } from '../support/dataset';
import { createKey, seed } from '../support/graphql';

/**
 * Compiled reads (src/graphql/compiled-reads.ts) against the same reads through the
 * resolvers: two apps on one database, GRAPHQL_COMPILED_READS on and off, every answer compared byte for byte.
 */
const A = '1400000001';
const B = '1400000002';
const T = 1_710_028_800; // 2024-03-10T00:00:00Z
// Names a cursor must carry through JSON and base64 exactly as JSON.stringify writes them.
const USERS = ['Alice', 'Bob', 'Carol', 'Zoë "Q" \\ back', '用户😀', 'tab\there'];
const OUTCOMES = ['answered', 'missed', 'rejected', 'ongoing'] as const;

const logger = new CountingLogger();
let db: TestDatabase;
let compiled: TestApp;
let resolved: TestApp;
let keyA: string;
let keyAll: string;

beforeAll(async () => {
  db = await openTestDatabase(logger);
  const quiet = { LIVE_POLL_MS: '60000', STATS_ROLLUP_INTERVAL_MS: '3600000' };
  compiled = await startTestApp({ ...quiet, GRAPHQL_COMPILED_READS: 'on' }, db);
  resolved = await startTestApp({ ...quiet, GRAPHQL_COMPILED_READS: 'off' }, db);
  const ds = db.dataSource;
  for (const [app, calls] of [[A, 40], [B, 12]] as const) {
    const bodies = Array.from({ length: calls }, (_, i) => {
      const caller = USERS[i % USERS.length];
      const callees = i % 5 === 0 ? [USERS[(i + 1) % USERS.length], USERS[(i + 2) % USERS.length]] : [USERS[(i + 3) % USERS.length]];
      return callEvents({
        callId: `${app === A ? 'a' : 'b'}${i}`,
        caller,
        callees,
        media: i % 3 === 0 ? 'video' : 'audio',
        type: callees.length > 1 ? 'group' : 'single',
        // Every fourth call starts in the same second as the one before it: the keyset's other columns order them.
        start: T + (i % 4 === 3 ? i - 1 : i) * 600,
        outcome: OUTCOMES[i % OUTCOMES.length],
        ring: 3 + (i % 7),
        talk: 30 + i,
      });
    });
    await seed(ds, app, bodies.flat());
  }
  // A call id in both apps: a key for both must name the app.
  await seed(ds, B, callEvents({ callId: 'a1', caller: 'Bob', callees: ['Alice'], start: T + 50, outcome: 'answered' }));
  // Sub-millisecond times, which both paths cut to the millisecond, and nulls.
  await ds.query(`UPDATE calls SET started_at = started_at + interval '123456 microseconds', ended_at = ended_at + interval '999999 microseconds' WHERE call_id IN ('a1', 'a2', 'a9')`);
  await ds.query(`UPDATE call_participants p SET started_at = c.started_at FROM calls c WHERE c.id = p.call_ref`);
  await ds.query(`UPDATE call_participants SET platform = NULL, answered_at = answered_at + interval '1500 microseconds' WHERE call_id IN ('a4', 'a8')`);
  await ds.query(`UPDATE calls SET room_id = NULL, caller_id = NULL WHERE call_id = 'a5'`);
  keyA = await createKey(ds, 'app-a', [A]);
  keyAll = await createKey(ds, 'all', null);
});
afterAll(async () => {
  await compiled.stop();
  await resolved.stop();
  await db.drop();
});

/** A compiled read's statement: its columns are named by position (src/calls/records.ts, `Projection`). */
const COMPILED = / AS "[nk]\d[\d_]*"| AS "one" FROM/;

/** The status and the body exactly as sent. */
async function raw(baseUrl: string, key: string, query: string, variables: Record<string, unknown> = {}, operationName?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables, operationName }),
  });
  return { status: res.status, body: await res.text() };
}

/** Asks both apps; expects the same bytes and returns the body, with how many reads the compiled app sent and whether one was compiled. */
async function both(key: string, query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  await raw(compiled.baseUrl, key, '{ __typename }'); // the key's scope cached: what is counted is the read alone
  const before = logger.statements;
  const a = await raw(compiled.baseUrl, key, query, variables, operationName);
  const statements = logger.since(before);
  const b = await raw(resolved.baseUrl, key, query, variables, operationName);
  expect(a).toEqual(b);
  // The request's own reads: the apps' background work (partitions, rollups) may run meanwhile on the same database.
  const reads = statements.filter((s) => /^\s*SELECT\b/.test(s) && /FROM (call_participants p|calls c)\b/.test(s) && !/call_stats/.test(s));
  return { ...a, json: JSON.parse(a.body), statements: reads.length, compiled: reads.some((s) => COMPILED.test(s)) };
}

const CALL = 'id sdkAppId callId roomId callType mediaType status result callerId startedAt acceptedAt endedAt ringSeconds talkSeconds participantCount lastEventAt';
const PARTICIPANT = 'userId role outcome platform invitedAt answeredAt leftAt';
const EVENT = 'id cursor sdkAppId callId userId role event rawEvent callType mediaType callResult eventTime receivedAt platform clientIp';

describe("compiled reads", () => {
  it('answers a history, a listing and their page info with the bytes the resolvers give, in one statement', async () => {
    const reads: [string, Record<string, unknown>][] = [
      [`query($u: String!) { participants(filter: { userId: $u }, first: 20) { edges { cursor node { ${PARTICIPANT} call { ${CALL} } } } } }`, { u: 'Alice' }],
      [`query($u: String!) { participants(filter: { userId: $u }, first: 20) { edges { cursor node { ${PARTICIPANT} call { ${CALL} } } } } }`, { u: USERS[3] }],
      [`{ participants(filter: { userId: "用户😀" }, first: 5) { __typename pageInfo { hasNextPage hasPreviousPage startCursor endCursor __typename } edges { __typename node { __typename role } cursor } } }`, {}],
      [`{ calls(filter: { mediaType: VIDEO }, first: 50) { edges { cursor node { ${CALL} } } } }`, {}],
      [`{ calls(first: 3, orderBy: STARTED_AT_ASC) { pageInfo { endCursor hasNextPage } edges { node { callId startedAt } } } }`, {}],
      [`{ calls(first: 0) { pageInfo { hasNextPage startCursor endCursor } edges { cursor } } }`, {}],
      [`{ __typename list: calls(filter: { status: [ENDED], result: [NOT_ANSWER, REJECT] }) { items: edges { at: cursor call: node { ...C ... on Call { talkSeconds } } } } } fragment C on Call { callId result }`, {}],
      [`{ calls(filter: { userId: "Bob", role: CALLEE, startedAt: { from: "2024-03-10T02:00:00Z", to: "2024-03-10T05:00:00.000Z" } }) { edges { node { callId } } } }`, {}],
      [`{ participants(filter: { outcome: [ACCEPTED, ENDED], callType: GROUP, mediaType: VIDEO, role: CALLEE }) { edges { node { userId call { callId callType } } } } }`, {}],
      [`query($c: String!) { call(callId: $c) { ${CALL} participants { ${PARTICIPANT} __typename } events { ${EVENT} __typename } } }`, { c: 'a4' }],
      [`{ one: call(callId: "a0") { __typename callId who: participants { userId } } }`, {}],
      [`{ call(callId: "no-such-call") { callId } }`, {}],
      [`{ participants(filter: { userId: "Alice" }, first: 3) { totalCount edges { cursor } n: totalCount } }`, {}],
      [`{ calls(filter: { mediaType: VIDEO }) { totalCount } }`, {}],
      [`{ calls(first: 50) { edges { cursor node { ${CALL} participants { userId role outcome } } } } }`, {}],
      [`query($u: String!) { participants(filter: { userId: $u }, first: 20) { edges { cursor node { role outcome call { ${CALL} participants { userId role outcome } events { event eventTime } } } } } }`, { u: 'Carol' }],
    ];
    for (const [query, variables] of reads) {
      const reply = await both(keyA, query, variables);
      expect(reply.status).toBe(200);
      expect(reply.json.errors).toBeUndefined();
      // A count alone is the resolvers' own statement either way.
      expect({ query, compiled: reply.compiled }).toEqual({ query, compiled: /edges|pageInfo|call\(/.test(query) });
      // One statement, and the count beside it when a totalCount needs rows as well.
      const statements = /totalCount/.test(query) && /edges/.test(query) ? 2 : 1;
      expect({ query, statements: reply.statements }).toEqual({ query, statements });
    }
    const history = (await both(keyA, reads[0][0], reads[0][1])).json.data.participants.edges;
    expect(history.length).toBeGreaterThan(5);
    expect(history.every((e: { node: { call: { sdkAppId: string } } }) => e.node.call.sdkAppId === A)).toBe(true);
  });

  it('walks every page of a history and a listing by endCursor, the same pages as the resolvers', async () => {
    for (const [root, filter] of [['participants', '{ userId: "Bob" }'], ['calls', '{ sdkAppId: "1400000001" }']]) {
      const query = `query($after: String) { ${root}(filter: ${filter}, first: 3, after: $after) { edges { cursor node { __typename } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`;
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const { json } = await both(keyAll, query, { after });
        const page = json.data[root];
        pages++;
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(pages).toBeGreaterThan(3);
    }
  });

  it('leaves to the resolvers what it does not render, with their answers and errors', async () => {
    const usual = [
      '{ participants(filter: { userId: "Alice" }, last: 2) { edges { cursor node { role } } } }',
      '{ calls(before: "x") { edges { cursor } } }',
      '{ calls(after: "bm90IGEgY3Vyc29y") { edges { cursor } } }',
      '{ calls(first: 501) { edges { cursor } } }',
      '{ calls(filter: { role: CALLER }) { edges { cursor } } }',
      '{ calls(first: 2) { edges { node { callId participants { userId call { callId } } } } } }',
      '{ call(callId: "a4") { events { call { callId } } } }',
      '{ calls(first: 2) { edges { node { callId @include(if: true) } } } }',
      '{ calls(first: 1) { edges { node { callId } } } participants(first: 1) { edges { cursor } } }',
      '{ calls(first: 1) { edges { node { callId } node { startedAt } } } }',
      // A key that would set the prototype of an object built in JS rather than add a key.
      '{ __proto__: calls(first: 2) { edges { cursor node { callId } } } }',
      '{ calls(first: 2) { edges { node { __proto__: roomId callId } } } }',
    ];
    for (const query of usual) {
      const reply = await both(keyA, query);
      expect({ query, compiled: reply.compiled }).toEqual({ query, compiled: false });
    }
    expect((await both(keyA, usual[2])).json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
    expect((await both(keyA, usual[3])).json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
    // No operation to answer: Apollo's own 400s, the same on both.
    const operations = 'query X { calls(first: 1) { edges { cursor } } } query Y { call(callId: "a1") { callId } }';
    for (const name of [undefined, 'Nope']) {
      const reply = await both(keyA, operations, {}, name);
      expect(reply.status).toBe(400);
      expect(reply.json.errors[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
    }
    expect((await both(keyA, operations, {}, 'Y')).json.data).toEqual({ call: { callId: 'a1' } });
    // A call id in two apps the key can read: the compiled statement finds two, and the resolver asks for the app.
    const twice = await both(keyAll, '{ call(callId: "a1") { callId } }');
    expect(twice.statements).toBe(2);
    expect(twice.json.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'sdkAppId' } });
    expect((await both(keyAll, '{ call(callId: "a1", sdkAppId: "1400000002") { sdkAppId } }')).compiled).toBe(true);
  });

  it('reads the usual way a page with a time it cannot write as the resolvers do, and logs it once per interval', async () => {
    // Ingest never writes such times; a hand-edited row still gets the resolvers' answer, not an error.
    const cases = [
      ['a year after 9999', `ended_at + interval '10000 years'`, '"endedAt":"+012024-03-10T'],
      ['BC, with a fraction', `'0044-03-15 12:00:00.123+00 BC'`, '"endedAt":"-000043-03-15T12:00:00.123Z"'],
    ];
    const queries = [
      `{ calls(filter: { sdkAppId: "${B}" }, first: 20) { edges { cursor node { callId startedAt endedAt } } } }`,
      `{ participants(filter: { sdkAppId: "${B}", userId: "Bob" }, first: 20) { edges { cursor node { userId call { callId endedAt } } } } }`,
    ];
    const [{ ended }] = await db.dataSource.query(`SELECT ended_at::text AS ended FROM calls WHERE sdk_app_id = $1 AND call_id = 'a1'`, [B]);
    // An app of its own, so that no earlier test's line is in its log's interval.
    const own = await startTestApp({ LIVE_POLL_MS: '60000', STATS_ROLLUP_INTERVAL_MS: '3600000', GRAPHQL_COMPILED_READS: 'on' }, db);
    const warn = jest.spyOn(own.app.server.log, 'warn');
    try {
      for (const [name, value, shown] of cases) {
        await db.dataSource.query(`UPDATE calls SET ended_at = ${value} WHERE sdk_app_id = $1 AND call_id = 'a1'`, [B]);
        for (const query of queries) {
          const a = await raw(own.baseUrl, keyAll, query);
          expect({ name, query, ...a }).toEqual({ name, query, ...(await raw(resolved.baseUrl, keyAll, query)) });
          expect(JSON.parse(a.body).errors).toBeUndefined();
          expect(a.body).toContain(shown);
        }
      }
      // Four reads were compiled and fell back: the app's log has it, as one line for the interval, not one per request.
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][1]).toMatch(/^compiled read failed, executing it as usual: timestamp text: expected .* got "/);
    } finally {
      warn.mockRestore();
      await own.stop();
      await db.dataSource.query(`UPDATE calls SET ended_at = $2::timestamptz WHERE sdk_app_id = $1 AND call_id = 'a1'`, [B, ended]);
    }
  });

  it("keeps a key to its apps: another app's calls are an empty page", async () => {
    for (const query of ['{ calls(filter: { sdkAppId: "1400000002" }) { edges { cursor node { callId } } } }', '{ participants(filter: { sdkAppId: "1400000002", userId: "Alice" }) { edges { node { call { callId } } } } }']) {
      const reply = await both(keyA, query);
      expect({ query, compiled: reply.compiled }).toEqual({ query, compiled: true });
      expect(Object.values(reply.json.data)[0]).toEqual({ edges: [] });
    }
    const all = await both(keyAll, '{ calls(filter: { sdkAppId: "1400000002" }) { edges { node { sdkAppId } } } }');
    expect(all.json.data.calls.edges).toHaveLength(13);
  });

  it('answers random selections, aliases, fragments and arguments as the resolvers do', async () => {
    const callFields = CALL.split(' ');
    const participantFields = PARTICIPANT.split(' ');
    const eventFields = EVENT.split(' ');
    const fieldsOf = (names: string[]) =>
      fc.uniqueArray(fc.constantFrom(...names, '__typename'), { minLength: 1, maxLength: names.length }).chain((picked) =>
        fc.tuple(...picked.map((name) => fc.record({ name: fc.constant(name), alias: fc.option(fc.constantFrom('x', 'y', 'z', 'w'), { nil: undefined }) }))),
      );
    // Aliases may clash with each other or with a field's name: such a selection is invalid, and both answer it alike.
    const render = (fields: { name: string; alias?: string }[]) => fields.map((f) => (f.alias ? `${f.alias}${f.name.length}${f.name.slice(0, 2)}: ${f.name}` : f.name)).join(' ');
    const filter = fc.record(
      {
        userId: fc.constantFrom(...USERS.slice(0, 5)),
        role: fc.constantFrom('CALLER', 'CALLEE'),
        mediaType: fc.constantFrom('AUDIO', 'VIDEO'),
        callType: fc.constantFrom('SINGLE', 'GROUP'),
        startedAt: fc.record({ from: fc.constantFrom('2024-03-10T01:00:00Z', '2024-03-10T00:10:00.123Z'), to: fc.constantFrom('2024-03-10T04:00:00Z', '2024-03-11T00:00:00Z') }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const arbitrary = fc.record({
      root: fc.constantFrom('participants', 'calls'),
      first: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null }),
      filter,
      order: fc.constantFrom(null, 'STARTED_AT_ASC', 'STARTED_AT_DESC'),
      node: fieldsOf(participantFields),
      call: fc.option(fieldsOf(callFields), { nil: null }),
      calls: fieldsOf(callFields),
      listed: fc.option(fieldsOf(participantFields), { nil: null }),
      events: fc.option(fieldsOf(eventFields), { nil: null }),
      cursor: fc.boolean(),
      pageInfo: fc.option(fc.uniqueArray(fc.constantFrom('hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename'), { minLength: 1 }), { nil: null }),
      totalCount: fc.boolean(),
      fragment: fc.boolean(),
      key: fc.constantFrom('A', 'all'),
    });
    let compiledCount = 0;
    await fc.assert(
      fc.asyncProperty(arbitrary, async (r) => {
        const lists = `${r.listed ? ` participants { ${render(r.listed)} }` : ''}${r.events ? ` events { ${render(r.events)} }` : ''}`;
        const node = r.root === 'calls' ? `${render(r.calls)}${lists}` : `${render(r.node)}${r.call ? ` call { ${render(r.call)}${lists} }` : ''}`;
        const type = r.root === 'calls' ? 'Call' : 'Participant';
        const nodeSelection = r.fragment ? `...N` : node;
        const edges = `edges { ${r.cursor ? 'cursor ' : ''}node { ${nodeSelection} } }`;
        const query = `query($first: Int, $filter: ${r.root === 'calls' ? 'CallFilter' : 'ParticipantFilter'}${r.root === 'calls' ? ', $order: CallOrder' : ''}) {
          ${r.root}(first: $first, filter: $filter${r.root === 'calls' ? ', orderBy: $order' : ''}) { ${r.totalCount ? 'totalCount ' : ''}${edges} ${r.pageInfo ? `pageInfo { ${r.pageInfo.join(' ')} }` : ''} } }
          ${r.fragment ? `fragment N on ${type} { ${node} }` : ''}`;
        const { filter: f } = r;
        const variables = { first: r.first, filter: r.root === 'participants' && f.role && !f.userId ? { ...f, userId: 'Alice' } : f, ...(r.root === 'calls' && { order: r.order }) };
        const reply = await both(r.key === 'A' ? keyA : keyAll, query, variables);
        if (reply.compiled) compiledCount++;
      }),
      { numRuns: 80 },
    );
    // Most random selections are valid reads a compiled read answers; the rest (clashing aliases, a calls filter with a role and no user) are compared above too.
    expect(compiledCount).toBeGreaterThan(40);
  });
});
