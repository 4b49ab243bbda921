import { IngestRepository } from '../../src/ingest/ingest.repository';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { callEvents } from '../support/dataset';
import { seed } from '../support/graphql';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

const snapshot = async () => ({
  calls: await db.dataSource.query(`SELECT sdk_app_id, call_id, status, result, caller_id, started_at, accepted_at, ended_at,
    ring_seconds, talk_seconds, participant_count, last_event_at, last_position FROM calls ORDER BY sdk_app_id, call_id`),
  participants: await db.dataSource.query(`SELECT p.sdk_app_id, p.call_id, user_id, role, outcome, platform, invited_at, answered_at, left_at
    FROM call_participants p ORDER BY 1, 2, 3`),
});

describe('rebuildProjection', () => {
  it('recomputes calls and participants from the stored events, removing what no longer derives', async () => {
    const T = 1_710_028_800;
    await seed(db.dataSource, '1400000001', Array.from({ length: 30 }, (_, i) => callEvents({ callId: `r${i}`, caller: `a${i}`, callees: [`b${i}`, `c${i}`], type: 'group', start: T + i * 60, outcome: i % 3 ? 'answered' : 'missed' })).flat());
    await seed(db.dataSource, '1400000002', callEvents({ callId: 'r0', caller: 'x', callees: ['y'], start: T, outcome: 'rejected' }));
    const before = await snapshot();

    await db.dataSource.query(`UPDATE calls SET status = 'RINGING', result = NULL, talk_seconds = 999`);
    await db.dataSource.query(`DELETE FROM call_participants WHERE user_id LIKE 'b%'`);
    const ghost = await db.dataSource.query(`SELECT id FROM calls WHERE call_id = 'r1' AND sdk_app_id = '1400000001'`);
    await db.dataSource.query(`INSERT INTO call_participants (call_ref, sdk_app_id, call_id, user_id, role, outcome) VALUES ($1, '1400000001', 'r1', 'ghost', 'CALLEE', 'JOINED')`, [ghost[0].id]);
    expect(await snapshot()).not.toEqual(before);

    const pages: number[] = [];
    const refolded = await new IngestRepository(db.dataSource).rebuildProjection(7, (done) => pages.push(done));
    expect(refolded).toBe(31);
    expect(pages).toEqual([7, 14, 21, 28, 31]);
    expect(await snapshot()).toEqual(before);
  });
});
