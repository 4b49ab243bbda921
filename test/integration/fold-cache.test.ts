import { EventPartitionRepository } from '../../src/db/event-partitions.repository';
import { FoldCache } from '../../src/ingest/fold-cache';
import { IngestRepository, CallTooLargeError } from '../../src/ingest/ingest.repository';
import { parseV1Callback, type CallbackEvent } from '../../src/ingest/trtc-v1.schema';
import { commandOf, type CallbackBody } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { callEvents } from '../support/dataset';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

const APP = '1400000001';
const T = 1_710_028_800;
const parse = (bodies: CallbackBody[]): CallbackEvent[] => bodies.map((b) => parseV1Callback(APP, { command: commandOf(b), optplatform: 'Android' }, b));
// The events here are of 2024: the age limit (retention) is tested on its own below.
const cache = (minEvents = 4) => new FoldCache({ minEvents, maxEvents: 10_000, idleMs: 60_000, maxEventAgeMs: Number.POSITIVE_INFINITY });
const DAY = 86_400;

/** Every column the fold writes of one call, participants' copies of the call's columns included. */
const whole = async (callId: string) => ({
  calls: await db.dataSource.query(
    `SELECT call_id, call_type, media_type, status, result, caller_id, started_at, accepted_at, ended_at, ring_seconds, talk_seconds,
       participant_count, first_event_at, last_event_at, last_position FROM calls WHERE call_id = $1`,
    [callId],
  ),
  participants: await db.dataSource.query(
    `SELECT user_id, role, outcome, platform, invited_at, answered_at, left_at, call_type, media_type, started_at
     FROM call_participants WHERE call_id = $1 ORDER BY user_id`,
    [callId],
  ),
});
const rebuilt = async (callId: string) => {
  await new IngestRepository(db.dataSource).rebuildProjection();
  return whole(callId);
};
const members = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

/** The projection of the calls whose id starts with `prefix`, as stored. */
const projection = async (prefix: string) => ({
  calls: await db.dataSource.query(
    `SELECT call_id, status, result, caller_id, started_at, accepted_at, ended_at, ring_seconds, talk_seconds, participant_count,
       first_event_at, last_event_at, last_position FROM calls WHERE call_id LIKE $1 ORDER BY call_id`,
    [`${prefix}%`],
  ),
  participants: await db.dataSource.query(
    `SELECT call_id, user_id, role, outcome, platform, invited_at, answered_at, left_at FROM call_participants WHERE call_id LIKE $1 ORDER BY 1, 2`,
    [`${prefix}%`],
  ),
});

/** A 40-callee group call's callbacks, in the order they happen. */
const groupCall = (callId: string) =>
  parse(callEvents({ callId, caller: 'host', callees: Array.from({ length: 40 }, (_, i) => `m${i}`), type: 'group', start: T, outcome: 'answered' }));

describe('the fold cache of large calls', () => {
  it('gives the projection a rebuild from the events gives, with two writers (two replicas) taking turns on the same calls', async () => {
    const events = [...groupCall('turns-a'), ...groupCall('turns-b')];
    const one = new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, null, cache());
    const two = new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, null, cache());
    // Small batches, alternately: each writer's cache misses the other's events and must read them back.
    for (let i = 0, turn = 0; i < events.length; i += 7, turn++) {
      const results = await (turn % 3 === 2 ? two : one).writeBatch(events.slice(i, i + 7));
      expect(results.every((r) => r === 'stored')).toBe(true);
    }
    const written = await projection('turns-');
    expect(written.participants).toHaveLength(82);
    expect(written.calls.map((c: { status: string }) => c.status)).toEqual(['ENDED', 'ENDED']);
    await new IngestRepository(db.dataSource).rebuildProjection();
    expect(await projection('turns-')).toEqual(written);
  });

  it('reads back only the events above its position, and keeps its state only once a batch committed', async () => {
    const events = groupCall('kept');
    const held = cache();
    const repo = new IngestRepository(db.dataSource, 90, null, held);
    await repo.writeBatch(events.slice(0, 60));
    expect(held.get({ sdkAppId: APP, callId: 'kept' })?.events).toHaveLength(60);
    const upTo = held.get({ sdkAppId: APP, callId: 'kept' })!.upTo;

    // Past CALL_MAX_EVENTS (90): refused, nothing stored, and the cache still says what is stored.
    await expect(repo.writeBatch(events.slice(60, 100))).rejects.toBeInstanceOf(CallTooLargeError);
    expect(held.get({ sdkAppId: APP, callId: 'kept' })?.upTo).toBe(upTo);
    expect((await db.dataSource.query(`SELECT count(*)::int AS n FROM call_events WHERE call_id = 'kept'`))[0].n).toBe(60);

    // Another writer adds to the call: the next batch reads those events back and folds them in.
    await new IngestRepository(db.dataSource).writeBatch(events.slice(60, 70));
    await repo.writeBatch(events.slice(70, 80));
    expect(held.get({ sdkAppId: APP, callId: 'kept' })?.events).toHaveLength(80);
    const written = await projection('kept');
    await new IngestRepository(db.dataSource).rebuildProjection();
    expect(await projection('kept')).toEqual(written);
  });

  it('writes every participant again after another writer changed the call, even one that looks unchanged to it', async () => {
    const on = (platform: string, bodies: CallbackBody[]) => bodies.map((b) => parseV1Callback(APP, { command: commandOf(b), optplatform: platform }, b));
    const start = callEvents({ callId: 'flip', caller: 'host', callees: ['m0', 'm1', 'm2', 'm3'], type: 'group', start: T, outcome: 'ongoing' }).slice(0, 5);
    const ring = (at: number) => ({ ...start[1], EventTime: at }); // m0's receive_call again: it only sets the platform
    const one = new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, null, cache());
    await one.writeBatch(on('iOS', start));
    await new IngestRepository(db.dataSource).writeBatch(on('Android', [ring(T + 2)]));
    const platform = async () => (await db.dataSource.query(`SELECT platform FROM call_participants WHERE call_id = 'flip' AND user_id = 'm0'`))[0].platform;
    expect(await platform()).toBe('Android');
    // Back to iOS: the row this writer last wrote for m0, but not the one stored now.
    await one.writeBatch(on('iOS', [ring(T + 3)]));
    expect(await platform()).toBe('iOS');
  });

  it("copies a late change of the call's start and media type to every participant, changed or not", async () => {
    const ev = callEvents({ callId: 'late-start', caller: 'host', callees: members(10), type: 'group', start: T, outcome: 'answered' });
    const repo = new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, null, cache());
    await repo.writeBatch(parse(ev.slice(1))); // the caller's start_call comes last, earlier and saying video
    await repo.writeBatch(parse([{ ...ev[0], EventTime: T - 30, MediaType: 'video' }]));
    const written = await whole('late-start');
    expect(written.participants.map((p: { media_type: string }) => p.media_type)).toEqual(Array(11).fill('VIDEO'));
    expect(written).toEqual(await rebuilt('late-start'));
  });

  it('reads a call whole again when call retention deleted its row', async () => {
    const ev = callEvents({ callId: 'retained', caller: 'host', callees: members(10), type: 'group', start: T - 5000, outcome: 'ongoing' });
    const repo = new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, null, cache());
    await repo.writeBatch(parse(ev.slice(0, 15)));
    expect(await new EventPartitionRepository(db.dataSource).deleteCallsBefore(T - 4999, 1000)).toBe(1);
    await repo.writeBatch(parse(ev.slice(15, 16)));
    const written = await whole('retained');
    expect(written.participants).toHaveLength(11);
    expect(written).toEqual(await rebuilt('retained'));
  });

  it('neither folds nor counts the events retention dropped from a call it holds', async () => {
    const partitions = new EventPartitionRepository(db.dataSource);
    const day0 = T + 10 * DAY;
    await partitions.create({ from: day0, to: day0 + DAY });
    await partitions.create({ from: day0 + DAY, to: day0 + 2 * DAY });
    // A call that rang into day 1; retention (one day) drops day 0's partition once it is day 2.
    let now = (day0 + DAY + 600) * 1000;
    const held = new FoldCache({ minEvents: 4, maxEvents: 10_000, idleMs: Number.POSITIVE_INFINITY, maxEventAgeMs: DAY * 1000 }, () => now);
    const repo = new IngestRepository(db.dataSource, 15, null, held);
    const ev = callEvents({ callId: 'dropped', caller: 'host', callees: members(10), type: 'group', start: day0 + DAY - 60, outcome: 'ongoing', ring: 120 });
    await repo.writeBatch(parse(ev.slice(0, 14))); // 11 events on day 0, 3 on day 1
    expect(held.get({ sdkAppId: APP, callId: 'dropped' })?.events).toHaveLength(14);
    now = (day0 + 2 * DAY + 60) * 1000;
    const day0Partition = (await partitions.list()).find((p) => p.range?.from === day0)!.name;
    expect(await partitions.dropAll([day0Partition], null)).toEqual({ outcome: 'dropped', dropped: [day0Partition], kept: 0, strayDeleted: 0 });
    // 3 stored + 4 new is within CALL_MAX_EVENTS (15): stored, and folded from what is stored.
    expect(await repo.writeBatch(parse(ev.slice(14, 18)))).toEqual(['stored', 'stored', 'stored', 'stored']);
    const written = await whole('dropped');
    const expected = await rebuilt('dropped');
    expect(written.calls).toEqual(expected.calls);
    // A write never removes a participant (only a rebuild does, cache or not): those of the dropped events stay.
    expect(written.participants).toEqual(expect.arrayContaining(expected.participants));
  });

  it('does not keep small calls', async () => {
    const held = cache(64);
    await new IngestRepository(db.dataSource, Number.POSITIVE_INFINITY, null, held).writeBatch(
      parse(callEvents({ callId: 'small-one', caller: 'a', callees: ['b'], start: T, outcome: 'answered' })),
    );
    expect(held.size).toEqual({ calls: 0, events: 0 });
  });
});
