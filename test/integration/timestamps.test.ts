import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { PG_TYPES } from '../../src/db/timestamps';
import { openTestDatabase, type TestDatabase } from '../support/database';

let db: TestDatabase;

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

/** Random timestamps (microseconds, years 1000 to 9999) and edge cases, each with its epoch in whole ms as PostgreSQL computes it. */
const SAMPLE = `
  WITH ts(t) AS (
    SELECT timestamptz '1000-01-01 00:00:00+00' + random() * (timestamptz '9999-12-31 23:59:59.999999+00' - timestamptz '1000-01-01 00:00:00+00')
    FROM generate_series(1, 2000)
    UNION ALL VALUES (timestamptz '2024-01-08 06:32:46+00'), (timestamptz '2024-01-08 06:32:46.5+00'), (timestamptz '2024-01-08 06:32:46.999999+00'),
      (timestamptz '0099-01-01 00:00:00+00'), (timestamptz '0044-03-15 12:00:00+00 BC'), (timestamptz '1970-01-01 00:00:00+00')
  )
  SELECT t, floor(extract(epoch FROM t) * 1000)::float8 AS ms FROM ts`;

describe("timestamps read through calltrail's pools", () => {
  it("are parsed by calltrail's type parsers", () => {
    for (const ds of [db.dataSource, db.ingestDataSource]) expect((ds.driver as PostgresDriver).master.options.types).toBe(PG_TYPES);
  });

  it.each(['UTC', 'Asia/Kolkata', 'America/St_Johns'])('are the instants PostgreSQL holds, to the millisecond, in a %s session', async (zone) => {
    const runner = db.dataSource.createQueryRunner();
    try {
      await runner.query(`SET TimeZone = '${zone}'`);
      const rows: { t: Date; ms: number }[] = await runner.query(SAMPLE);
      expect(rows).toHaveLength(2006);
      for (const row of rows) {
        expect(row.t).toBeInstanceOf(Date);
        if (row.t.getTime() !== row.ms) throw new Error(`${zone}: expected ${row.ms}, got ${row.t.getTime()} (${row.t.toISOString()})`);
      }
    } finally {
      await runner.query('RESET TimeZone');
      await runner.release();
    }
  });
});
