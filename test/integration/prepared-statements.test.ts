import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { loadConfig } from '../../src/config';
import { createDataSource, openDatabase } from '../../src/db/database';
import { PREPARED_PER_CONNECTION, PreparingClient } from '../../src/db/prepared';
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

  it(`keeps at most ${PREPARED_PER_CONNECTION} statements on a connection, and sends the rest unnamed`, async () => {
    const ds = await oneConnection();
    const texts = Array.from({ length: PREPARED_PER_CONNECTION + 20 }, (_, i) => `SELECT $1::int * ${i + 2} AS n`);
    for (const [i, text] of texts.entries()) expect(await ds.query(text, [i])).toEqual([{ n: i * (i + 2) }]);
    // Again: the first ones still run prepared, the others still unnamed, and all answer.
    for (const [i, text] of texts.entries()) expect(await ds.query(text, [i + 1])).toEqual([{ n: (i + 1) * (i + 2) }]);
    const statements = await preparedOn(ds);
    expect(statements.size).toBe(PREPARED_PER_CONNECTION);
    expect([...statements.keys()].sort()).toEqual(texts.slice(0, PREPARED_PER_CONNECTION).sort());
  });

  it('runs one statement sent many times at once on a pipelined connection, parsing it once', async () => {
    const ds = await oneConnection();
    const text = 'SELECT $1::int AS n, pg_sleep(0.001)::text AS slept';
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => ds.query(text, [i])));
    expect(answers.map((rows: { n: number }[]) => rows[0].n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect((await preparedOn(ds)).get(text)).toMatchObject({ generic: 0, custom: 50 });
  });

  it('sends a statement unnamed on its connection once PostgreSQL refuses it for a changed result', async () => {
    const ds = await oneConnection();
    await ds.query('CREATE TABLE prepared_shape (a int, b int)');
    await ds.query('INSERT INTO prepared_shape VALUES (1, 10)');
    const text = 'SELECT s.a, s.b FROM prepared_shape s WHERE s.a = $1';
    expect(await ds.query(text, [1])).toEqual([{ a: 1, b: 10 }]);
    await ds.query('ALTER TABLE prepared_shape ALTER COLUMN b TYPE text');
    await expect(ds.query(text, [1])).rejects.toThrow('cached plan must not change result type');
    expect(await ds.query(text, [1])).toEqual([{ a: 1, b: '10' }]);
    expect(await ds.query(text, [1])).toEqual([{ a: 1, b: '10' }]);
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
