import { Client } from 'pg';
import { POSITION_LOCK } from '../../src/db/advisory-lock';
import { pgPool } from '../../src/db/pool-stats';
import { IngestRepository } from '../../src/ingest/ingest.repository';
import { parseV1Callback, type CallbackEvent } from '../../src/ingest/trtc-v1.schema';
import { commandOf, type CallbackBody } from '../support/callbacks';
import { openTestDatabase, type TestDatabase } from '../support/database';
import { callEvents } from '../support/dataset';

// A batch is two round trips of statements sent together (BEGIN with the lock and the insert; the
// projection and COMMIT): what is sent behind a statement must take effect only if that statement did.

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

const APP = '1400000001';
const T = 1_710_028_800;
const call = (callId: string): CallbackEvent[] =>
  callEvents({ callId, caller: 'alice', callees: ['bob'], type: 'single', start: T, outcome: 'answered' }).map((b: CallbackBody) =>
    parseV1Callback(APP, { command: commandOf(b), optplatform: 'Android' }, b),
  );
const stored = async (callIds: string[]) =>
  (await db.dataSource.query(`SELECT count(*)::int AS n FROM call_events WHERE call_id = ANY($1)`, [callIds]))[0].n as number;

describe('the ingest transaction', () => {
  it('stores none of a batch whose projection PostgreSQL refuses, though COMMIT was sent behind it, and its connection writes the next batch', async () => {
    await db.dataSource.query(`
      CREATE FUNCTION refuse_call() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.call_id = 'tx-refused' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$`);
    await db.dataSource.query(`CREATE TRIGGER tr_refuse_call BEFORE INSERT ON calls FOR EACH ROW EXECUTE FUNCTION refuse_call()`);
    const repo = new IngestRepository(db.ingestDataSource);
    // What PostgreSQL says back besides results: a ROLLBACK after the COMMIT that already ended the
    // aborted transaction would add "there is no transaction in progress" here (and to the server's log).
    const notices: string[] = [];
    const listening = new WeakSet<object>();
    const pool = pgPool(db.ingestDataSource)!;
    const listen = (client: Client) => {
      if (listening.has(client)) return;
      listening.add(client);
      client.on('notice', (n) => notices.push(n.message ?? ''));
    };
    pool.on('acquire', listen);
    try {
      await expect(repo.writeBatch([...call('tx-refused'), ...call('tx-beside')])).rejects.toThrow('refused for the test');
      expect(notices).toEqual([]);
      expect(await stored(['tx-refused', 'tx-beside'])).toBe(0);
      expect(await db.dataSource.query(`SELECT call_id FROM calls WHERE call_id LIKE 'tx-%'`)).toEqual([]);
    } finally {
      pool.off('acquire', listen);
      await db.dataSource.query(`DROP TRIGGER tr_refuse_call ON calls; DROP FUNCTION refuse_call()`);
    }
    // Every connection of the pool in turn: none was left inside the aborted transaction.
    for (let i = 0; i < 4; i++) expect(await repo.writeBatch(call(`tx-after-${i}`))).toEqual(Array(call('x').length).fill('stored'));
    expect(await stored(['tx-refused', 'tx-beside'])).toBe(0);
  });

  it('takes no position while another writer holds the position lock: the insert sent with the lock waits behind it', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [POSITION_LOCK]);
      const before = await db.dataSource.query(`SELECT last_value::text AS v, is_called FROM call_events_position_seq`);
      const writing = new IngestRepository(db.ingestDataSource).writeBatch(call('tx-waits'));
      const waiting = async () =>
        (await db.dataSource.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`))[0].n as number;
      for (let i = 0; i < 100 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await waiting()).toBe(1);
      // The insert was sent, but PostgreSQL runs it only once the lock is granted.
      expect(await db.dataSource.query(`SELECT last_value::text AS v, is_called FROM call_events_position_seq`)).toEqual(before);
      await holder.query('COMMIT');
      expect(await writing).toEqual(Array(call('x').length).fill('stored'));
      expect(await stored(['tx-waits'])).toBe(call('x').length);
    } finally {
      await holder.end();
    }
  });
});
