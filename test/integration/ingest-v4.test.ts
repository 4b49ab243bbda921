import type { Client } from 'graphql-ws';
import { truncateAll } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, OK_REPLY, postCallback, SDKAPPID, T0 } from '../support/callbacks';
import { END_CALL, makeEndCall, makeMemberChanged, makeStartCall, MEMBER_CHANGED, postV4Callback, START_CALL, v4CallBodies } from '../support/callbacks-v4';
import { callEvents } from '../support/dataset';
import { createKey, gql } from '../support/graphql';
import { collect, settle, wsClient } from '../support/ws';
import { storedEventBody } from '../../src/ingest/ingest.repository';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ SDKAPPIDS: SDKAPPID });
});
afterAll(async () => {
  await t.stop();
});
beforeEach(async () => {
  await truncateAll(t.db.dataSource);
});

const q = <T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> => t.db.dataSource.query(sql, params);
const postAll = async (app: TestApp, bodies: Record<string, unknown>[]) => {
  for (const b of bodies) expect(await postV4Callback(app.baseUrl, b)).toEqual({ status: 200, body: OK_REPLY });
};
const ms = (s: number) => (T0 + s) * 1000;

describe('POST /callback with v4 callbacks', () => {
  it.each([
    [START_CALL, makeStartCall(), [['Alice', 'CALLER', 'CALL_STARTED', 'Calling'], ['Bob', 'CALLEE', 'CALL_STARTED', 'Waiting']]],
    [MEMBER_CHANGED, makeMemberChanged([['Bob', 'Accept']]), [['Bob', null, 'MEMBER_ACCEPTED', 'Accept']]],
    [END_CALL, makeEndCall(), [['Alice', 'CALLER', 'CALL_RECORD', ''], ['Bob', 'CALLEE', 'CALL_RECORD', '']]],
  ])('stores %s as one event per user it names and answers 200', async (command, body, want) => {
    expect(await postV4Callback(t.baseUrl, body)).toEqual({ status: 200, body: OK_REPLY });
    const rows = await q(`SELECT user_id, role, event_type, raw_event, command, platform, client_ip, body, dedupe_key FROM call_events ORDER BY position`);
    expect(rows.map((r) => [r.user_id, r.role, r.event_type, r.raw_event])).toEqual(want);
    for (const r of rows) expect(r).toMatchObject({ command, platform: 'Android', client_ip: '10.0.0.8', dedupe_key: expect.stringMatching(/^[0-9a-f]{64}:\d+$/) });
    // The whole body once, on the first event; the others point at it.
    expect(rows[0].body).toEqual(body);
    for (const r of rows.slice(1)) expect(r.body).toEqual({ CallbackCommand: command, bodyIn: rows[0].dedupe_key });
    expect(await q(`SELECT call_id FROM calls`)).toEqual([{ call_id: 'call-1' }]);
  });

  it("finds the whole body stored with a callback's first event, for spool replay to keep a refused event of it", async () => {
    const body = makeStartCall();
    expect(await postV4Callback(t.baseUrl, body)).toEqual({ status: 200, body: OK_REPLY });
    const [first, second] = await q(`SELECT dedupe_key, extract(epoch FROM event_time)::int AS t FROM call_events ORDER BY position`);
    expect(await storedEventBody(t.db.dataSource, SDKAPPID, first.dedupe_key, first.t)).toEqual(body);
    expect(await storedEventBody(t.db.dataSource, SDKAPPID, second.dedupe_key, second.t)).toEqual({ CallbackCommand: START_CALL, bodyIn: first.dedupe_key });
    expect(await storedEventBody(t.db.dataSource, '1400000999', first.dedupe_key, first.t)).toBeNull();
    expect(await storedEventBody(t.db.dataSource, SDKAPPID, first.dedupe_key, first.t + 1)).toBeNull();
  });

  it('projects a one-to-one call into calls and participants', async () => {
    await postAll(t, v4CallBodies({ callId: 'v4-1', caller: 'Alice', callees: ['Bob'], outcome: 'answered' }));
    const [call] = await q(`SELECT status, result, caller_id, call_type, media_type, ring_seconds, talk_seconds, participant_count,
      extract(epoch FROM started_at)::int AS s, extract(epoch FROM accepted_at)::int AS a, extract(epoch FROM ended_at)::int AS e FROM calls`);
    expect(call).toEqual({ status: 'ENDED', result: 'NORMAL_END', caller_id: 'Alice', call_type: 'SINGLE', media_type: 'AUDIO', ring_seconds: 5, talk_seconds: 60, participant_count: 2, s: T0, a: T0 + 5, e: T0 + 65 });
    const participants = await q(`SELECT user_id, role, outcome, platform, extract(epoch FROM answered_at)::int AS answered,
      extract(epoch FROM left_at)::int AS left_at FROM call_participants ORDER BY user_id`);
    expect(participants).toEqual([
      { user_id: 'Alice', role: 'CALLER', outcome: 'ENDED', platform: 'Android', answered: T0 + 5, left_at: T0 + 65 },
      { user_id: 'Bob', role: 'CALLEE', outcome: 'ENDED', platform: 'Android', answered: T0 + 5, left_at: T0 + 65 },
    ]);
  });

  it('projects a group call with joins and hang-ups, ongoing until its record ends it', async () => {
    const users = ['Alice', 'Bob', 'Carol'].map((u, i) => ({ User_Account: u, Status: i === 0 ? 'Calling' : 'Waiting' }));
    const changed = (at: number, ...changes: [string, string][]) => makeMemberChanged(changes, { CallId: 'g1', UserList: users, EventTime: ms(at) });
    await postAll(t, [
      makeStartCall({ UserList: users, EventTime: ms(0) }, { CallId: 'g1', CallMediaType: 'Video' }),
      changed(4, ['Bob', 'Answer'], ['Carol', 'Reject']),
      changed(20, ['Dan', 'Invited']),
      changed(25, ['Dan', 'Join']),
      changed(60, ['Bob', 'Hangup'], ['Dan', 'Hang Up']),
    ]);
    expect(await q(`SELECT status, result, call_type, media_type, participant_count FROM calls`)).toEqual([
      { status: 'ONGOING', result: null, call_type: 'GROUP', media_type: 'VIDEO', participant_count: 4 },
    ]);
    const record = { CallId: 'g1', CallType: 'MultiCall', MediaType: 'Video', AcceptTime: T0 + 4, EndTime: T0 + 60, CalleeList_Account: ['Alice', 'Bob', 'Carol', 'Dan'] };
    await postAll(t, [makeEndCall(record, { EventTime: ms(61) })]);
    expect(await q(`SELECT status, result, talk_seconds FROM calls`)).toEqual([{ status: 'ENDED', result: 'NORMAL_END', talk_seconds: 56 }]);
    expect(await q(`SELECT user_id, role, outcome FROM call_participants ORDER BY user_id`)).toEqual([
      { user_id: 'Alice', role: 'CALLER', outcome: 'ENDED' },
      { user_id: 'Bob', role: 'CALLEE', outcome: 'ENDED' },
      { user_id: 'Carol', role: 'CALLEE', outcome: 'REJECTED' },
      { user_id: 'Dan', role: 'CALLEE', outcome: 'ENDED' },
    ]);
  });

  it('stores a v4 body delivered 6 times, 3 of them at once, once and answers 200 every time', async () => {
    const body = makeMemberChanged([['Bob', 'Accept'], ['Carol', 'Join']]);
    for (let i = 0; i < 3; i++) expect(await postV4Callback(t.baseUrl, body)).toEqual({ status: 200, body: OK_REPLY });
    const replies = await Promise.all([1, 2, 3].map(() => postV4Callback(t.baseUrl, body)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await q(`SELECT user_id, event_type FROM call_events ORDER BY position`)).toEqual([
      { user_id: 'Bob', event_type: 'MEMBER_ACCEPTED' },
      { user_id: 'Carol', event_type: 'MEMBER_JOINED' },
    ]);
  });

  it('folds a call seen through v1 and v4 into one call', async () => {
    expect((await postCallback(t.baseUrl, makeCallback({ CallId: 'both', Event: 'start_call' }))).status).toBe(200);
    expect((await postCallback(t.baseUrl, makeCallback({ CallId: 'both', UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: T0 + 5 }))).status).toBe(200);
    await postAll(t, [makeMemberChanged([['Bob', 'Hang Up']], { CallId: 'both', EventTime: ms(65) }), makeEndCall({ CallId: 'both' })]);
    expect(await q(`SELECT call_id, status, result, caller_id, talk_seconds, participant_count FROM calls`)).toEqual([
      { call_id: 'both', status: 'ENDED', result: 'NORMAL_END', caller_id: 'Alice', talk_seconds: 60, participant_count: 2 },
    ]);
  });

  it('keeps a numeric User_Account beyond 2^53 exactly, as text', async () => {
    const raw = `{"CallbackCommand":"${START_CALL}","CallInfo":{"CallId":"big","CallMediaType":"Audio","RoomId":"","RoomIdType":1},
      "UserList":[{"User_Account":144115212830834855,"Status":"Calling"},{"User_Account":144115212948889925,"Status":"Waiting"}],"EventTime":1740464128807}`;
    expect((await postV4Callback(t.baseUrl, { CallbackCommand: START_CALL }, { rawBody: raw })).status).toBe(200);
    expect(await q(`SELECT user_id, role FROM call_participants ORDER BY user_id`)).toEqual([
      { user_id: '144115212830834855', role: 'CALLER' },
      { user_id: '144115212948889925', role: 'CALLEE' },
    ]);
  });

  it.each([
    ['a record without Caller_Account', makeEndCall({ Caller_Account: undefined }), {}, 400, 4002, 'CallRecord.Caller_Account: expected a non-empty string'],
    ['an unknown command', { CallbackCommand: 'Call.CallbackBeforeStartCall' }, {}, 400, 4003, 'CallbackCommand: expected one of Call.CallbackAfterStartCall'],
    ['another app in SdkAppid', makeStartCall(), { sdkAppId: '1499999999' }, 403, 4030, 'sdkappid: expected an SDKAppID this server accepts'],
  ])('refuses %s with a clear error and keeps it in quarantine', async (_name, body, opts, status, errorCode, message) => {
    const res = await postV4Callback(t.baseUrl, body, opts);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: errorCode });
    expect(String(res.body.ErrorMessage)).toContain(message);
    const [row] = await q(`SELECT reason, query_string FROM rejected_callbacks`);
    expect(row.reason).toContain(message);
    expect(row.query_string).toContain('CallbackCommand=');
    expect(await q(`SELECT count(*)::int AS n FROM call_events`)).toEqual([{ n: 0 }]);
  });
});

describe('a v4 call in GraphQL', () => {
  const CALL = `query($id: String) { calls(filter: { callId: $id }) { totalCount edges { node {
    status result callerId callType mediaType startedAt acceptedAt endedAt ringSeconds talkSeconds participantCount lastEventAt
    participants { userId role outcome invitedAt answeredAt leftAt } } } } }`;
  const STATS = `query($id: String) { callStats(filter: { callId: $id }) { calls answered answerRate missed totalTalkSeconds avgTalkSeconds } }`;

  it('reads like the same call sent through v1: calls, participants, events and callStats', async () => {
    const key = await createKey(t.db.dataSource, 'v4', [SDKAPPID]);
    for (const b of callEvents({ callId: 'via-v1', caller: 'Alice', callees: ['Bob'], start: T0, outcome: 'answered' })) await postCallback(t.baseUrl, b);
    await postAll(t, v4CallBodies({ callId: 'via-v4', caller: 'Alice', callees: ['Bob'], outcome: 'answered' }));

    const [viaV1, viaV4] = await Promise.all(['via-v1', 'via-v4'].map((id) => gql(t.baseUrl, key, CALL, { id })));
    expect(viaV4.errors).toBeUndefined();
    expect(viaV4.data!.calls.totalCount).toBe(1);
    expect(viaV4.data).toEqual(viaV1.data);
    const [statsV1, statsV4] = await Promise.all(['via-v1', 'via-v4'].map((id) => gql(t.baseUrl, key, STATS, { id })));
    expect(statsV4.data!.callStats).toEqual([{ calls: 1, answered: 1, answerRate: 1, missed: 0, totalTalkSeconds: 60, avgTalkSeconds: 60 }]);
    expect(statsV4.data).toEqual(statsV1.data);

    const bob = await gql(t.baseUrl, key, `{ participants(filter: { userId: "Bob", outcome: [ENDED] }) { totalCount } }`);
    expect(bob.data!.participants.totalCount).toBe(2);
    const events = await gql(t.baseUrl, key, `{ callEvents(filter: { callId: "via-v4", events: [MEMBER_ACCEPTED, CALL_RECORD] }) { edges { node { userId event rawEvent } } } }`);
    expect(events.data!.callEvents.edges.map((e: any) => e.node)).toEqual([
      { userId: 'Bob', event: 'MEMBER_ACCEPTED', rawEvent: 'Accept' },
      { userId: 'Alice', event: 'CALL_RECORD', rawEvent: '' },
      { userId: 'Bob', event: 'CALL_RECORD', rawEvent: '' },
    ]);
  });
});

describe('a v4 call in subscriptions', () => {
  let live: TestApp;
  const clients: Client[] = [];
  beforeAll(async () => {
    live = await startTestApp({ SDKAPPIDS: SDKAPPID, LIVE_POLL_MS: '200' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await live.stop();
  });

  it('pushes its events to callEventAdded and its state to callUpdated', async () => {
    const key = await createKey(live.db.dataSource, 'console', [SDKAPPID]);
    const client = wsClient(live.baseUrl, key);
    clients.push(client);
    const events = collect(client, `subscription { callEventAdded(filter: { userId: "Bob" }) { callId userId event } }`);
    const updates = collect(client, `subscription { callUpdated(filter: { userId: "Bob" }) { callId status result participants { userId role outcome } } }`);
    await settle(300);
    const bodies = v4CallBodies({ callId: 'live-v4', caller: 'Alice', callees: ['Bob'], outcome: 'answered' });
    for (const [i, body] of bodies.entries()) {
      await postAll(live, [body]);
      await updates.waitFor(i + 1); // one step at a time: each callback is its own update
    }
    await events.waitFor(4);
    await settle();
    expect(events.items.map((e) => e.event)).toEqual(['CALL_STARTED', 'MEMBER_ACCEPTED', 'MEMBER_HUNG_UP', 'CALL_RECORD']);
    expect(events.items.every((e) => e.callId === 'live-v4' && e.userId === 'Bob')).toBe(true);
    expect(updates.items.map((c) => c.status)).toEqual(['RINGING', 'ONGOING', 'ENDED', 'ENDED']);
    expect(updates.items.at(-1)).toEqual({
      callId: 'live-v4', status: 'ENDED', result: 'NORMAL_END',
      participants: [{ userId: 'Alice', role: 'CALLER', outcome: 'ENDED' }, { userId: 'Bob', role: 'CALLEE', outcome: 'ENDED' }],
    });
  });
});
