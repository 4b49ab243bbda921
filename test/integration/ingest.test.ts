import { truncateAll } from '../support/database';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, makeStatusCallback, OK_REPLY, postCallback, SDKAPPID, T0, type CallbackBody } from '../support/callbacks';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ SDKAPPIDS: `${SDKAPPID},1400000002` });
});
afterAll(async () => {
  await t.stop();
});
beforeEach(async () => {
  await truncateAll(t.db.dataSource);
});

const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => t.db.dataSource.query(sql, params);

/** Every v1 event command of docs/trtc-callbacks.md, section 2, with its role, event and stored type. */
const EVENT_COMMANDS: [role: string, event: string, type: string][] = [
  ['caller', 'start_call', 'START_CALL'],
  ['caller', 'call_accepted', 'CALL_ACCEPTED'],
  ['caller', 'call_missed', 'CALL_MISSED'],
  ['caller', 'call_rejected', 'CALL_REJECTED'],
  ['caller', 'call_busy', 'CALL_BUSY'],
  ['caller', 'cancel_call', 'CANCEL_CALL'],
  ['caller', 'call_failed', 'CALL_FAILED'],
  ['caller', 'call_end', 'CALL_END'],
  ['caller', 'call_interrupted', 'CALL_INTERRUPTED'],
  ['callee', 'receive_call', 'RECEIVE_CALL'],
  ['callee', 'accept_call', 'ACCEPT_CALL'],
  ['callee', 'not_answer_call', 'NOT_ANSWER_CALL'],
  ['callee', 'reject_call', 'REJECT_CALL'],
  ['callee', 'ignore_call', 'IGNORE_CALL'],
  ['callee', 'call_canceled', 'CALL_CANCELED'],
  ['callee', 'call_end', 'CALL_END'],
  ['callee', 'call_interrupted', 'CALL_INTERRUPTED'],
  ['callee', 'invite_user', 'INVITE_USER'],
  ['caller', 'join_in_group_call', 'JOIN_IN_GROUP_CALL'],
  ['callee', 'some_future_event', 'OTHER'],
];

describe('POST /callback', () => {
  it.each(EVENT_COMMANDS)('stores a %s %s event as %s and answers 200', async (role, event, type) => {
    const body = makeCallback({ Role: role, Event: event, UserId: role === 'caller' ? 'Alice' : 'Bob', CallId: `c-${role}-${event}` });
    const res = await postCallback(t.baseUrl, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(OK_REPLY);
    const [row] = await q(`SELECT raw_event, event_type, role, user_id, sdk_app_id, command, platform, client_ip, body FROM call_events WHERE call_id = $1`, [body.CallId]);
    expect(row).toMatchObject({ raw_event: event, event_type: type, role: role.toUpperCase(), sdk_app_id: SDKAPPID, command: `${role}_${event}`, platform: 'iOS', client_ip: '127.0.0.1' });
    expect(row.body).toEqual(body);
    const [call] = await q(`SELECT call_id FROM calls WHERE call_id = $1`, [body.CallId]);
    expect(call).toBeDefined();
  });

  it.each([
    ['normal_end', 'NORMAL_END'],
    ['not_answer', 'NOT_ANSWER'],
    ['reject', 'REJECT'],
    ['call_busy', 'CALL_BUSY'],
    ['cancel', 'CANCEL'],
    ['interrupt', 'INTERRUPT'],
    ['offline', 'OFFLINE'],
  ])('stores a %s status callback as CALL_RESULT %s and ends the call', async (word, result) => {
    const body = makeStatusCallback({ CallResult: word, CallId: `s-${word}`, EndTs: T0 + 30 });
    const res = await postCallback(t.baseUrl, body);
    expect(res.status).toBe(200);
    const [row] = await q(`SELECT event_type, call_result, raw_call_result, raw_event FROM call_events WHERE call_id = $1`, [body.CallId]);
    expect(row).toEqual({ event_type: 'CALL_RESULT', call_result: result, raw_call_result: word, raw_event: '' });
    const [call] = await q(`SELECT status, result, ended_at FROM calls WHERE call_id = $1`, [body.CallId]);
    expect(call).toMatchObject({ status: 'ENDED', result });
    expect((call.ended_at as Date).getTime()).toBe((T0 + 30) * 1000);
  });

  it('accepts a status callback whose command is call_end', async () => {
    const res = await postCallback(t.baseUrl, makeStatusCallback(), { query: { command: 'call_end' } });
    expect(res.status).toBe(200);
    expect(await q(`SELECT command FROM call_events`)).toEqual([{ command: 'call_end' }]);
  });

  it('reads the body as JSON whatever the Content-Type, with numeric strings and upper-case words', async () => {
    const body = makeCallback({ EventTime: String(T0), TotalNum: '2', MediaType: 'VIDEO', CallType: 'Single', Role: 'CALLER' });
    const res = await postCallback(t.baseUrl, body, { contentType: 'text/plain' });
    expect(res.status).toBe(200);
    const [row] = await q(`SELECT media_type, call_type, role, total_num, event_time FROM call_events`);
    expect(row).toMatchObject({ media_type: 'VIDEO', call_type: 'SINGLE', role: 'CALLER', total_num: 2 });
    expect((row.event_time as Date).getTime()).toBe(T0 * 1000);
  });

  it('projects a full one-to-one call into calls and call_participants', async () => {
    const callee = { UserId: 'Bob', Role: 'callee' };
    const events: CallbackBody[] = [
      makeCallback({ Event: 'start_call', EventTime: T0 }),
      makeCallback({ ...callee, Event: 'receive_call', EventTime: T0 + 1 }),
      makeCallback({ ...callee, Event: 'accept_call', EventTime: T0 + 6 }),
      makeCallback({ Event: 'call_accepted', EventTime: T0 + 6 }),
      makeCallback({ ...callee, Event: 'call_end', EventTime: T0 + 96, CallResult: 'normal_end' }),
      makeCallback({ Event: 'call_end', EventTime: T0 + 96, CallResult: 'normal_end' }),
      makeStatusCallback({ EventTime: T0 + 97, StartCallTs: T0, AcceptTs: T0 + 6, EndTs: T0 + 96 }),
    ];
    for (const e of events) expect((await postCallback(t.baseUrl, e)).status).toBe(200);
    const [call] = await q(`SELECT status, result, caller_id, call_type, media_type, room_id, ring_seconds, talk_seconds,
      participant_count, extract(epoch FROM started_at)::int AS s, extract(epoch FROM accepted_at)::int AS a,
      extract(epoch FROM ended_at)::int AS e FROM calls`);
    expect(call).toEqual({
      status: 'ENDED', result: 'NORMAL_END', caller_id: 'Alice', call_type: 'SINGLE', media_type: 'AUDIO', room_id: "Alice's Room",
      ring_seconds: 6, talk_seconds: 90, participant_count: 2, s: T0, a: T0 + 6, e: T0 + 96,
    });
    const participants = await q(`SELECT user_id, role, outcome, platform, extract(epoch FROM answered_at)::int AS answered,
      extract(epoch FROM left_at)::int AS left_at, call_type, media_type FROM call_participants ORDER BY user_id`);
    expect(participants).toEqual([
      { user_id: 'Alice', role: 'CALLER', outcome: 'ENDED', platform: 'iOS', answered: T0 + 6, left_at: T0 + 96, call_type: 'SINGLE', media_type: 'AUDIO' },
      { user_id: 'Bob', role: 'CALLEE', outcome: 'ENDED', platform: 'iOS', answered: T0 + 6, left_at: T0 + 96, call_type: 'SINGLE', media_type: 'AUDIO' },
    ]);
  });

  it('projects a group call with an invited and a joining user', async () => {
    const g = { CallType: 'group', CallId: 'group-1', MediaType: 'video' };
    const events: CallbackBody[] = [
      makeCallback({ ...g, Event: 'start_call' }),
      makeCallback({ ...g, UserId: 'Bob', Role: 'callee', Event: 'receive_call', EventTime: T0 + 1 }),
      makeCallback({ ...g, UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: T0 + 4 }),
      makeCallback({ ...g, Event: 'call_accepted', EventTime: T0 + 4 }),
      makeCallback({ ...g, UserId: 'Carol', Role: 'callee', Event: 'invite_user', EventTime: T0 + 20 }),
      makeCallback({ ...g, UserId: 'Dan', Role: 'callee', Event: 'join_in_group_call', EventTime: T0 + 25 }),
      makeCallback({ ...g, UserId: 'Carol', Role: 'callee', Event: 'reject_call', EventTime: T0 + 22 }),
    ];
    for (const e of events) expect((await postCallback(t.baseUrl, e)).status).toBe(200);
    const [ongoing] = await q(`SELECT status, result, participant_count, call_type, media_type FROM calls`);
    expect(ongoing).toEqual({ status: 'ONGOING', result: null, participant_count: 4, call_type: 'GROUP', media_type: 'VIDEO' });
    await postCallback(t.baseUrl, makeStatusCallback({ ...g, EventTime: T0 + 120, EndTs: T0 + 118 }));
    const [ended] = await q(`SELECT status, result, talk_seconds FROM calls`);
    expect(ended).toEqual({ status: 'ENDED', result: 'NORMAL_END', talk_seconds: 114 });
    const outcomes = await q(`SELECT user_id, role, outcome FROM call_participants ORDER BY user_id`);
    expect(outcomes).toEqual([
      { user_id: 'Alice', role: 'CALLER', outcome: 'ENDED' },
      { user_id: 'Bob', role: 'CALLEE', outcome: 'ENDED' },
      { user_id: 'Carol', role: 'CALLEE', outcome: 'REJECTED' },
      { user_id: 'Dan', role: 'CALLEE', outcome: 'ENDED' },
    ]);
  });

  it('rewrites only the participants a callback changed, not every member of the call', async () => {
    const g = { CallType: 'group', CallId: 'group-rewrites', MediaType: 'video' };
    await postCallback(t.baseUrl, makeCallback({ ...g, Event: 'start_call' }));
    for (const u of ['Bob', 'Carol', 'Dan']) {
      expect((await postCallback(t.baseUrl, makeCallback({ ...g, UserId: u, Role: 'callee', Event: 'receive_call', EventTime: T0 + 1 }))).status).toBe(200);
    }
    const versions = async () =>
      Object.fromEntries(
        (await q(`SELECT user_id, xmin::text AS v, outcome FROM call_participants WHERE call_id = 'group-rewrites'`)).map((r) => [r.user_id, `${r.v} ${r.outcome}`]),
      );
    const before = await versions();
    expect((await postCallback(t.baseUrl, makeCallback({ ...g, UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: T0 + 4 }))).status).toBe(200);
    const after = await versions();
    expect(after.Bob).not.toEqual(before.Bob);
    expect(after.Bob).toMatch(/ ACCEPTED$/);
    // Alice, the caller, is in the call from the first answer on; Carol and Dan are still ringing: the same row versions.
    expect(after.Alice).toMatch(/ ACCEPTED$/);
    expect({ Carol: after.Carol, Dan: after.Dan }).toEqual({ Carol: before.Carol, Dan: before.Dan });
  });

  it('gives identical projections for the same events posted in many orders', async () => {
    const base: CallbackBody[] = [
      makeCallback({ Event: 'start_call' }),
      makeCallback({ UserId: 'Bob', Role: 'callee', Event: 'receive_call' }),
      makeCallback({ UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: T0 + 3 }),
      makeCallback({ Event: 'call_accepted', EventTime: T0 + 3 }),
      makeCallback({ UserId: 'Bob', Role: 'callee', Event: 'call_interrupted', EventTime: T0 + 40 }),
      makeCallback({ Event: 'call_end', EventTime: T0 + 40 }),
      makeStatusCallback({ CallResult: 'interrupt', EventTime: T0 + 41 }),
    ];
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const orders = Array.from({ length: 12 }, (_, i) => {
      const order = [...base];
      if (i === 1) order.reverse();
      if (i > 1) order.sort(() => random() - 0.5);
      return order.map((e) => ({ ...e, CallId: `perm-${i}` }));
    });
    // Half sequential, half all at once (batched together in any order).
    for (const order of orders.slice(0, 6)) for (const e of order) await postCallback(t.baseUrl, e);
    await Promise.all(orders.slice(6).flatMap((order) => order.map((e) => postCallback(t.baseUrl, e))));
    const calls = await q(`SELECT status, result, caller_id, started_at, accepted_at, ended_at, ring_seconds, talk_seconds, participant_count, last_event_at FROM calls`);
    expect(calls).toHaveLength(12);
    for (const c of calls) expect(c).toEqual(calls[0]);
    expect(calls[0]).toMatchObject({ status: 'ENDED', result: 'INTERRUPT' });
    const parts = await q<{ call_id: string }>(`SELECT call_id, user_id, role, outcome, invited_at, answered_at, left_at FROM call_participants ORDER BY call_id, user_id`);
    const strip = (rows: { call_id: string }[]) => rows.map(({ call_id: _, ...rest }) => rest);
    const first = strip(parts.filter((p) => p.call_id === 'perm-0'));
    for (let i = 1; i < 12; i++) expect(strip(parts.filter((p) => p.call_id === `perm-${i}`))).toEqual(first);
  });

  it('stores a callback delivered 6 times once and answers 200 every time', async () => {
    const body = makeCallback();
    for (let i = 0; i < 6; i++) {
      const res = await postCallback(t.baseUrl, body);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(OK_REPLY);
    }
    expect(await q(`SELECT count(*)::int AS n FROM call_events`)).toEqual([{ n: 1 }]);
  });

  it('treats the same body from two apps as two events', async () => {
    await postCallback(t.baseUrl, makeCallback());
    await postCallback(t.baseUrl, makeCallback(), { sdkAppId: '1400000002' });
    expect(await q(`SELECT sdk_app_id FROM call_events ORDER BY sdk_app_id`)).toEqual([{ sdk_app_id: SDKAPPID }, { sdk_app_id: '1400000002' }]);
    expect(await q(`SELECT count(*)::int AS n FROM calls`)).toEqual([{ n: 2 }]);
  });

  it('commits 200 concurrent callbacks (and 50 redeliveries among them), each once', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) =>
      makeCallback({ CallId: `load-${i % 40}`, UserId: `u${i}`, Role: 'callee', Event: 'receive_call', EventTime: T0 + i }),
    );
    const replies = await Promise.all([...bodies, ...bodies.slice(0, 50)].map((b) => postCallback(t.baseUrl, b)));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    const [{ n, distinct }] = await q(`SELECT count(*)::int AS n, count(DISTINCT user_id)::int AS distinct FROM call_events`);
    expect({ n, distinct }).toEqual({ n: 200, distinct: 200 });
    const [{ parts }] = await q(`SELECT sum(participant_count)::int AS parts FROM calls`);
    expect(parts).toBe(200);
  });
});
