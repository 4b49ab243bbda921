import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { loadConfig } from '../../src/config';
import { createDataSource, openDatabase } from '../../src/db/database';
import { scopeOf } from '../../src/api-keys/api-key.repository';
import { CallRepository } from '../../src/calls/call.repository';
import { NAMED_TEXTS, PREPARED_PER_CONNECTION, PreparingClient, statementName } from '../../src/db/prepared';
import { QuietClient } from '../../src/db/quiet-client';
import { openTestDatabase, type TestDatabase } from '../support/database';

let db: TestDatabase;
const opened: DataSource[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  for (const ds of opened) if (ds.isInitialized) await ds.destroy();
  await db.drop();
});

/** A query pool of one connection, so every statement and `pg_prepared_statements` meet on it. */
async function oneConnection(prepare = true): Promise<DataSource> {
  const ds = createDataSource(db.url, { size: 1, statementTimeoutMs: 10000, name: 'calltrail-prepared-test', prepare });
  await ds.initialize();
  opened.push(ds);
  return ds;
}

/** The statements this connection has prepared through the protocol (not with SQL PREPARE), by text. */
async function preparedOn(ds: DataSource): Promise<Map<string, { name: string; generic: number; custom: number }>> {
  const rows: { statement: string; name: string; generic_plans: string; custom_plans: string }[] = await ds.query(
    'SELECT statement, name, generic_plans, custom_plans FROM pg_prepared_statements WHERE NOT from_sql',
  );
  return new Map(rows.map((r) => [r.statement, { name: r.name, generic: Number(r.generic_plans), custom: Number(r.custom_plans) }]));
}

describe('prepared statements on query connections', () => {
  it('prepares a parameterised statement once per connection, and answers as an unnamed one does', async () => {
    const prepared = await oneConnection();
    const unnamed = await oneConnection(false);
    const text = 'SELECT $1::int + g AS n, $2::text AS label FROM generate_series(1, 3) g ORDER BY g';
    for (let i = 0; i < 8; i++) {
      const a = await prepared.query(text, [i, `run ${i}`]);
      expect(a).toEqual(await unnamed.query(text, [i, `run ${i}`]));
      expect(a).toEqual([1, 2, 3].map((g) => ({ n: i + g, label: `run ${i}` })));
    }
    const statements = await preparedOn(prepared);
    expect(statements.get(text)?.name).toMatch(/^calltrail_/);
    // Eight executions of one statement parsed once, each planned for its own parameters.
    expect(statements.get(text)).toMatchObject({ generic: 0, custom: 8 });
    expect((await preparedOn(unnamed)).size).toBe(0);
  });

  it('plans every run for its parameters, never with a generic plan', async () => {
    const prepared = await oneConnection();
    expect(await prepared.query('SHOW plan_cache_mode')).toEqual([{ plan_cache_mode: 'force_custom_plan' }]);
    expect(await (await oneConnection(false)).query('SHOW plan_cache_mode')).toEqual([{ plan_cache_mode: 'auto' }]);
    // An app's ongoing calls, as the board lists them: a generic plan would walk all of the app's calls.
    const text = 'SELECT c.id FROM calls c WHERE c.sdk_app_id = $1 AND c.status = ANY($2) ORDER BY c.started_at DESC, c.id DESC LIMIT 51';
    for (let i = 0; i < 12; i++) await prepared.query(text, ['1400000001', ['ONGOING']]);
    expect((await preparedOn(prepared)).get(text)).toMatchObject({ generic: 0, custom: 12 });
  });

  it('sends a statement with no parameters, or whose columns come from *, unnamed', async () => {
    const ds = await oneConnection();
    await ds.query('SELECT 1 AS one');
    await ds.query('SELECT * FROM calls WHERE sdk_app_id = $1', ['1400000001']);
    await ds.query('SELECT c.* FROM calls c WHERE c.sdk_app_id = $1', ['1400000001']);
    await ds.query('SELECT count(*) AS n FROM calls WHERE sdk_app_id = $1', ['1400000001']);
    expect([...(await preparedOn(ds)).keys()]).toEqual(['SELECT count(*) AS n FROM calls WHERE sdk_app_id = $1']);
  });

  it(`keeps at most ${PREPARED_PER_CONNECTION} statements on a connection, deallocating the least recently used`, async () => {
    const ds = await oneConnection();
    const hot = 'SELECT $1::int AS hot';
    const texts = Array.from({ length: PREPARED_PER_CONNECTION + 20 }, (_, i) => `SELECT $1::int * ${i + 2} AS n`);
    for (const [i, text] of texts.entries()) {
      expect(await ds.query(text, [i])).toEqual([{ n: i * (i + 2) }]);
      // A statement in use between the others stays prepared.
      if (i % 10 === 0) expect(await ds.query(hot, [i])).toEqual([{ hot: i }]);
    }
    let statements = await preparedOn(ds);
    expect(statements.size).toBe(PREPARED_PER_CONNECTION);
    expect(statements.get(hot)).toMatchObject({ custom: Math.ceil(texts.length / 10) });
    expect(statements.has(texts[0])).toBe(false);
    expect(statements.has(texts.at(-1)!)).toBe(true);
    // The first ones again: parsed again as they come back, each in place of the least recently used.
    for (const [i, text] of texts.slice(0, 30).entries()) expect(await ds.query(text, [i + 1])).toEqual([{ n: (i + 1) * (i + 2) }]);
    statements = await preparedOn(ds);
    expect(statements.size).toBe(PREPARED_PER_CONNECTION);
    for (const text of texts.slice(0, 30)) expect(statements.get(text)).toMatchObject({ custom: 1 });
  });

  it('makes room only for what it can deallocate: not a statement whose parse is in flight, nothing inside a transaction', async () => {
    const ds = await oneConnection();
    const runner = ds.createQueryRunner();
    const text = (i: number) => `SELECT $1::int + ${i} AS v`;
    const count = async () => Number((await runner.query('SELECT count(*) AS n FROM pg_prepared_statements WHERE NOT from_sql'))[0].n);
    try {
      // More new texts than a connection keeps, all sent at once: every parse is in flight when room is wanted.
      const all = await Promise.all(Array.from({ length: PREPARED_PER_CONNECTION + 16 }, (_, i) => runner.query(text(i), [1])));
      expect(all).toEqual(Array.from({ length: PREPARED_PER_CONNECTION + 16 }, (_, i) => [{ v: 1 + i }]));
      for (let i = 0; i < PREPARED_PER_CONNECTION + 16; i++) expect(await runner.query(text(i), [2])).toEqual([{ v: 2 + i }]);
      expect(await count()).toBeLessThanOrEqual(PREPARED_PER_CONNECTION);

      // A healthy transaction that meets many new texts commits.
      await runner.query('CREATE TEMP TABLE prepared_tx (x int)');
      await runner.startTransaction();
      for (let i = 100; i < 100 + PREPARED_PER_CONNECTION; i++) expect(await runner.query(text(i), [1])).toEqual([{ v: 1 + i }]);
      await runner.query('INSERT INTO prepared_tx VALUES ($1)', [7]);
      await runner.commitTransaction();
      expect(await runner.query('SELECT x FROM prepared_tx')).toEqual([{ x: 7 }]);

      // A failed transaction that goes on sending: nothing is deallocated in it, and after it every text still runs.
      await runner.startTransaction();
      await expect(runner.query('SELECT 1 / $1::int AS x', [0])).rejects.toThrow('division by zero');
      for (let i = 200; i < 210; i++) await expect(runner.query(text(i), [1])).rejects.toThrow('current transaction is aborted');
      await runner.rollbackTransaction();
      for (const i of [0, 100, 163, 200, 209]) expect(await runner.query(text(i), [3])).toEqual([{ v: 3 + i }]);
      expect(await count()).toBeLessThanOrEqual(PREPARED_PER_CONNECTION);
    } finally {
      await runner.release();
    }
  });

  it('names a text afresh once the process has forgotten it, and keeps the names of texts in use', () => {
    const first = statementName('SELECT $1::int AS forgotten')!;
    const hot = statementName('SELECT $1::int AS hot_text')!;
    const recent: string[] = [];
    for (let i = 0; i < NAMED_TEXTS; i++) {
      recent.push(statementName(`SELECT $1::int + ${i} AS churn`)!);
      // A text in use keeps its name however many others come by.
      if (i % 100 === 0) expect(statementName('SELECT $1::int AS hot_text')).toBe(hot);
    }
    expect(statementName('SELECT $1::int AS hot_text')).toBe(hot);
    expect(statementName(`SELECT $1::int + ${NAMED_TEXTS - 1} AS churn`)).toBe(recent.at(-1));
    expect(statementName('SELECT $1::int AS forgotten')).not.toBe(first);
    expect(new Set(recent).size).toBe(NAMED_TEXTS);
  });

  it('reads pages of any size with one statement', async () => {
    const ds = await oneConnection();
    const calls = new CallRepository(ds);
    for (const first of [1, 5, 50, 500]) await calls.list(scopeOf(['1400000001']), {}, 'STARTED_AT_DESC', { first });
    const listings = [...(await preparedOn(ds)).entries()].filter(([text]) => text.includes('FROM calls'));
    expect(listings).toHaveLength(1);
    expect(listings[0][1]).toMatchObject({ custom: 4 });
  });

  it('sends a statement with a value pg would have to serialise by calling code (an object) unnamed', async () => {
    const ds = await oneConnection();
    expect(await ds.query("SELECT $1::jsonb ->> 'a' AS a", [{ a: 'x' }])).toEqual([{ a: 'x' }]);
    expect(await ds.query('SELECT $1::text AS t, $2::timestamptz AS d, $3::text[] AS list', ['t', new Date(0), ['a', 'b']])).toEqual([
      { t: 't', d: new Date(0), list: ['a', 'b'] },
    ]);
    expect([...(await preparedOn(ds)).keys()]).toEqual(['SELECT $1::text AS t, $2::timestamptz AS d, $3::text[] AS list']);
  });

  it('runs one statement sent many times at once on a pipelined connection, parsing it once', async () => {
    const ds = await oneConnection();
    const runner = ds.createQueryRunner();
    const text = 'SELECT $1::int AS n, pg_sleep(0.001)::text AS slept';
    try {
      // All 50 on one connection at once: pg sends them without waiting for the answers. While the
      // first one's parse is in flight the others go unnamed (were it to fail, they would fail too).
      for (let burst = 0; burst < 2; burst++) {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => runner.query(text, [i + burst])));
        expect(answers.map((rows: { n: number }[]) => rows[0].n)).toEqual(Array.from({ length: 50 }, (_, i) => i + burst));
      }
    } finally {
      await runner.release();
    }
    expect((await preparedOn(ds)).get(text)).toMatchObject({ generic: 0, custom: 51 });
  });

  it('keeps a statement whose DEALLOCATE a transaction pipelined ahead of it refused, and sends its text unnamed meanwhile', async () => {
    const ds = await oneConnection();
    const runner = ds.createQueryRunner();
    const text = (i: number) => `SELECT $1::int + ${i} AS v`;
    try {
      for (let i = 0; i < PREPARED_PER_CONNECTION; i++) await runner.query(text(i), [0]);
      // Sent together: the connection was idle when room was made for the new text, so text 0's
      // DEALLOCATE goes out, behind a BEGIN and an error that make it fail.
      const [begin, division, fresh, rollback, again] = await Promise.allSettled([
        runner.query('BEGIN'),
        runner.query('SELECT 1 / 0 AS x'), // no parameter: it makes no room itself
        runner.query(text(1000), [1]),
        runner.query('ROLLBACK'),
        runner.query(text(0), [1]),
      ]);
      expect([begin.status, division.status, fresh.status, rollback.status]).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect(again).toEqual({ status: 'fulfilled', value: [{ v: 1 }] });
      for (let run = 0; run < 3; run++) expect(await runner.query(text(0), [run])).toEqual([{ v: run }]);
      expect(statementName(text(0))).not.toBeNull();
    } finally {
      await runner.release();
    }
    const statements = await preparedOn(ds);
    expect(statements.size).toBeLessThanOrEqual(PREPARED_PER_CONNECTION);
    expect(statements.get(text(0))?.custom).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ['its result changed', 'b', 'cached plan must not change result type'],
    ['an operator it used is gone', 'a', 'operator does not exist: text = integer'],
  ])('sends a statement unnamed on every connection once PostgreSQL refuses it (%s)', async (_case, column, error) => {
    const [first, second] = [await oneConnection(), await oneConnection()];
    const table = `prepared_shape_${column}`;
    await first.query(`CREATE TABLE ${table} (a int, b int)`);
    await first.query(`INSERT INTO ${table} VALUES (1, 10)`);
    const text = `SELECT s.a::text AS a, s.b FROM ${table} s WHERE s.a = $1`;
    for (const ds of [first, second]) expect(await ds.query(text, [1])).toEqual([{ a: '1', b: 10 }]);
    await first.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE text`);
    await expect(first.query(text, [1])).rejects.toThrow(error);
    // The one refusal is enough: neither connection sends the prepared statement again, and unnamed it is analysed against the new column.
    const now = column === 'a' ? { a: '1', b: 10 } : { a: '1', b: '10' };
    for (const ds of [first, second, first]) expect(await ds.query(text, [1])).toEqual([now]);
  });

  it('prepares a statement first sent in a failed transaction once the transaction is over', async () => {
    const ds = await oneConnection();
    const runner = ds.createQueryRunner();
    const text = 'SELECT $1::text || $2::text AS joined';
    try {
      await runner.startTransaction();
      await expect(runner.query('SELECT 1 / $1::int AS x', [0])).rejects.toThrow('division by zero');
      await expect(runner.query(text, ['a', 'b'])).rejects.toThrow('current transaction is aborted');
      await runner.rollbackTransaction();
      expect(await runner.query(text, ['a', 'b'])).toEqual([{ joined: 'ab' }]);
      expect(await runner.query(text, ['c', 'd'])).toEqual([{ joined: 'cd' }]);
    } finally {
      await runner.release();
    }
    expect((await preparedOn(ds)).get(text)?.custom).toBe(2);
  });
});

describe('DB_PREPARED_STATEMENTS', () => {
  it.each([
    [{}, PreparingClient],
    [{ DB_PREPARED_STATEMENTS: 'on' }, PreparingClient],
    [{ DB_PREPARED_STATEMENTS: 'off' }, QuietClient],
  ])('with %j gives the query pool %p, and never the ingest pool', async (env, client) => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: db.url, ...env });
    const opened = await openDatabase(config, () => undefined, { migrate: false });
    try {
      expect((opened.dataSource.driver as PostgresDriver).master.Client).toBe(client);
      expect((opened.ingestDataSource.driver as PostgresDriver).master.Client).toBe(QuietClient);
      expect(await opened.dataSource.query('SELECT $1::int + 1 AS n', [41])).toEqual([{ n: 42 }]);
    } finally {
      await opened.close();
    }
  });

  it('names what it expects when set to something else', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', DB_PREPARED_STATEMENTS: 'yes' })).toThrow('DB_PREPARED_STATEMENTS: Invalid option: expected one of "on"|"off" (got "yes")');
  });
});
