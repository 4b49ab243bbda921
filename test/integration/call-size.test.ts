import { startTestApp, type TestApp } from '../support/app';
import { parseV1Callback } from '../../src/ingest/trtc-v1.schema';
import { commandOf, makeCallback, OK_REPLY, postCallback, SDKAPPID, T0 } from '../support/callbacks';
import { makeEndCall, postV4Callback } from '../support/callbacks-v4';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ CALL_MAX_EVENTS: '100', LIVE_POLL_MS: '60000' });
});
afterAll(() => t.stop());

const stored = async (callId: string): Promise<number> =>
  (await t.db.dataSource.query(`SELECT count(*)::int AS n FROM call_events WHERE call_id = $1`, [callId]))[0].n;
const quarantined = async (code: string): Promise<{ reason: string }[]> =>
  t.db.dataSource.query(`SELECT reason FROM rejected_callbacks WHERE error_code = $1 ORDER BY id`, [code]);

/** Fills `callId` with `n` stored events straight in SQL (a call that grew before the limit). */
async function fill(callId: string, n: number): Promise<void> {
  await t.db.dataSource.query(
    `INSERT INTO call_events (sdk_app_id, call_id, user_id, role, raw_event, event_type, event_time, body, dedupe_key)
     SELECT $1, $2, 'u' || i, 'CALLEE', 'receive_call', 'RECEIVE_CALL', to_timestamp($3), '{}'::jsonb, $2 || '-' || i
     FROM generate_series(1, $4::int) i`,
    [SDKAPPID, callId, T0, n],
  );
}

describe('calls past CALL_MAX_EVENTS', () => {
  it('refuses a v4 record that would take a call past the limit with 422 and keeps it in quarantine, storing nothing of it', async () => {
    await fill('huge-record', 50);
    const callees = Array.from({ length: 60 }, (_, i) => `callee-${i}`); // one event per user: 50 + 61 > 100
    const res = await postV4Callback(t.baseUrl, makeEndCall({ CallId: 'huge-record', CallType: 'MultiCall', CalleeList_Account: callees }));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ ErrorCode: 4220 });
    expect(await stored('huge-record')).toBe(50);
    const kept = await quarantined('CALL_TOO_LARGE');
    expect(kept.at(-1)?.reason).toBe('CallId: expected a call of at most 100 stored events (CALL_MAX_EVENTS), got "huge-record" with more');
  });

  it('refuses a callback for a full call while callbacks of other calls in the same batch are stored', async () => {
    await fill('full-call', 100);
    const replies = await Promise.all([
      postCallback(t.baseUrl, makeCallback({ CallId: 'full-call', UserId: 'late', Event: 'accept_call', Role: 'callee' })),
      ...Array.from({ length: 20 }, (_, i) => postCallback(t.baseUrl, makeCallback({ CallId: `small-${i}` }))),
    ]);
    expect(replies[0].status).toBe(422);
    for (const r of replies.slice(1)) expect(r.body).toEqual(OK_REPLY);
    expect(await stored('full-call')).toBe(100);
    for (let i = 0; i < 20; i++) expect(await stored(`small-${i}`)).toBe(1);
  });

  it('answers a redelivery of an event already stored in a full call with 200', async () => {
    const body = makeCallback({ CallId: 'full-then-dup' });
    expect((await postCallback(t.baseUrl, body)).body).toEqual(OK_REPLY);
    await fill('full-then-dup', 120);
    expect((await postCallback(t.baseUrl, body)).body).toEqual(OK_REPLY);
  });

  it('stores the spooled events of other calls and quarantines, as acknowledged, those of a full call when the spool is replayed', async () => {
    await fill('full-spooled', 100);
    const events = [makeCallback({ CallId: 'full-spooled', UserId: 'x', Event: 'accept_call', Role: 'callee' }), makeCallback({ CallId: 'spooled-ok' })].map((b) =>
      parseV1Callback(SDKAPPID, { command: commandOf(b) }, b),
    );
    await t.app.ingest.service.store(events); // what a spool replay does with a batch
    expect(await stored('spooled-ok')).toBe(1);
    expect(await stored('full-spooled')).toBe(100);
    const rows = await t.db.dataSource.query(`SELECT source, sdk_app_id AS app FROM rejected_callbacks WHERE error_code = 'CALL_TOO_LARGE' AND query_string LIKE '%spooled=1%'`);
    expect(rows).toEqual([{ source: 'spool', app: SDKAPPID }]);
  });
});
