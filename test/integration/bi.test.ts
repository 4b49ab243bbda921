import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { scramSha256Verifier } from '../../src/bi/scram';
import { startTestApp, type TestApp } from '../support/app';
import { makeCallback, makeStatusCallback, postCallback, T0, type CallbackBody } from '../support/callbacks';
import { createKey, gql } from '../support/graphql';

const A = '1400000001';
const B = '1400000002';
const DAY = 86_400;
let t: TestApp;
const rolesToDrop: string[] = [];

/** One call's callbacks: started by Alice; answered by Bob after 5 s and ended `talk` s later, or not answered. */
function callOf(i: number): CallbackBody[] {
  const start = T0 + (i % 3) * DAY + i * 60;
  const base = { CallId: `bi-${i}`, MediaType: i % 2 === 0 ? 'audio' : 'video', CallType: i % 4 < 2 ? 'single' : 'group', EventTime: start };
  const started = makeCallback({ ...base, Event: 'start_call' });
  if (i % 3 === 2) return [started, makeStatusCallback({ ...base, CallResult: 'not_answer', EventTime: start + 30, StartCallTs: start, EndTs: start + 30 })];
  const talk = 10 * (i + 1);
  return [
    started,
    makeCallback({ ...base, UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: start + 5 }),
    makeStatusCallback({ ...base, EventTime: start + 5 + talk, StartCallTs: start, AcceptTs: start + 5, EndTs: start + 5 + talk }),
  ];
}

/** Runs the bi command (its source, as `npm run bi` runs its build) against the test database. */
function bi(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '../../src/cli/bi.cli.ts'), ...args],
      { env: { ...process.env, DATABASE_URL: t.db.url, LOG_LEVEL: 'silent', NODE_ENV: 'test' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function connectAs(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

const ownerQuery = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);

beforeAll(async () => {
  t = await startTestApp();
  for (let i = 0; i < 24; i++) {
    for (const body of callOf(i)) expect((await postCallback(t.baseUrl, body, { sdkAppId: i % 5 === 4 ? B : A })).status).toBe(200);
  }
}, 60000);
afterAll(async () => {
  for (const name of rolesToDrop) await ownerQuery(`DROP ROLE IF EXISTS "${name}"`).catch(() => undefined);
  await t?.stop();
});

describe('the bi views', () => {
  it('give per day, app, media and call type the same numbers as GraphQL callStats', async () => {
    const key = await createKey(t.db.dataSource, 'bi-a', [A]);
    const reply = await gql(t.baseUrl, key, `{ callStats(groupBy: [MEDIA_TYPE, CALL_TYPE], interval: DAY) {
      bucket mediaType callType calls answered answerRate missed totalTalkSeconds avgTalkSeconds } }`);
    expect(reply.errors).toBeUndefined();
    const fromGraphQL = (reply.data!.callStats as Record<string, unknown>[]).map((r) => ({ ...r, bucket: String(r.bucket).slice(0, 10) }));
    const fromView = (
      await ownerQuery(`SELECT day::text AS bucket, media_type AS "mediaType", call_type AS "callType", calls, answered, answer_rate AS "answerRate",
        missed, total_talk_seconds::float8 AS "totalTalkSeconds", avg_talk_seconds AS "avgTalkSeconds"
        FROM bi.daily_stats WHERE sdk_app_id = $1 ORDER BY 1, 2, 3`, [A])
    ).map((r: Record<string, unknown>) => r);
    expect(fromView.length).toBeGreaterThanOrEqual(6); // three days, several media and call types
    expect(fromView).toEqual(fromGraphQL);
    const [{ n }] = await ownerQuery(`SELECT sum(calls)::int AS n FROM bi.daily_stats WHERE sdk_app_id = $1`, [A]);
    expect(n).toBe(Array.from({ length: 24 }, (_, i) => i).filter((i) => i % 5 !== 4).length);
  });

  it('name calls, participants and events in words a BI tool shows as they are', async () => {
    const [call] = await ownerQuery(`SELECT * FROM bi.calls WHERE call_id = 'bi-0'`);
    expect(call).toMatchObject({ sdk_app_id: A, media_type: 'AUDIO', call_type: 'SINGLE', status: 'ENDED', result: 'NORMAL_END', answered: true, caller_id: 'Alice', talk_seconds: 10, ring_seconds: 5 });
    const participants = await ownerQuery(`SELECT user_id, role, outcome, answered, talk_seconds FROM bi.participants WHERE call_id = 'bi-0' ORDER BY user_id`);
    expect(participants).toEqual([
      { user_id: 'Alice', role: 'CALLER', outcome: 'ENDED', answered: true, talk_seconds: 10 },
      { user_id: 'Bob', role: 'CALLEE', outcome: 'ENDED', answered: true, talk_seconds: 10 },
    ]);
    const events = await ownerQuery(`SELECT event, result, user_id FROM bi.events WHERE call_id = 'bi-2' AND sdk_app_id = $1 ORDER BY position`, [A]);
    expect(events).toEqual([
      { event: 'START_CALL', result: null, user_id: 'Alice' },
      { event: 'CALL_RESULT', result: 'NOT_ANSWER', user_id: 'Alice' },
    ]);
  });
});

describe('npm run bi -- create-role', () => {
  it('creates a login that reads only its apps through the views and the tables under them, and nothing else', async () => {
    const name = `bi_test_${randomBytes(4).toString('hex')}`;
    rolesToDrop.push(name);
    const created = await bi('create-role', '--name', name, '--apps', A);
    expect(created).toMatchObject({ code: 0 });
    const url = created.stdout.trim();
    expect(new URL(url).username).toBe(name);
    const client = await connectAs(url);
    try {
      for (const [view, table] of [['bi.calls', 'calls'], ['bi.participants', 'call_participants'], ['bi.events', 'call_events'], ['bi.daily_stats', 'calls']]) {
        const seen = await client.query(`SELECT DISTINCT sdk_app_id FROM ${view}`);
        expect(seen.rows).toEqual([{ sdk_app_id: A }]);
        const [{ n: ofA }] = await ownerQuery(`SELECT count(*)::int AS n FROM ${table} WHERE sdk_app_id = $1`, [A]);
        if (view !== 'bi.daily_stats') expect((await client.query(`SELECT count(*)::int AS n FROM ${view}`)).rows[0].n).toBe(ofA);
        expect((await client.query(`SELECT count(*)::int AS n FROM public.${table} WHERE sdk_app_id = $1`, [B])).rows[0].n).toBe(0);
      }
      expect((await client.query(`SELECT count(*)::int AS n FROM calls`)).rows[0].n).toBeGreaterThan(0); // search_path: bi first
      for (const sql of [`SELECT * FROM public.rejected_callbacks`, `SELECT * FROM public.api_keys`, `DELETE FROM public.calls`]) {
        await expect(client.query(sql)).rejects.toMatchObject({ code: '42501' });
      }
      expect((await client.query(`SELECT role_name, sdk_app_id FROM public.bi_role_apps`)).rows).toEqual([{ role_name: name, sdk_app_id: A }]);
    } finally {
      await client.end();
    }
    // calltrail itself still reads every app.
    const all = await gql(t.baseUrl, await createKey(t.db.dataSource, 'bi-all', null), '{ calls(first: 1) { totalCount } }');
    const [{ n: total }] = await ownerQuery(`SELECT count(*)::int AS n FROM calls`);
    expect(all.data!.calls.totalCount).toBe(total);
  });

  it('leaves a role that is not a BI role reading every row as before', async () => {
    const name = `plain_${randomBytes(4).toString('hex')}`;
    rolesToDrop.push(name);
    await ownerQuery(`CREATE ROLE "${name}" LOGIN PASSWORD 'plain-password-1'`);
    await ownerQuery(`GRANT SELECT ON calls TO "${name}"`);
    const u = new URL(t.db.url);
    u.username = name;
    u.password = 'plain-password-1';
    const client = await connectAs(u.toString());
    try {
      const seen = await client.query(`SELECT sdk_app_id, count(*)::int AS n FROM calls GROUP BY 1 ORDER BY 1`);
      expect(seen.rows).toEqual(await ownerQuery(`SELECT sdk_app_id, count(*)::int AS n FROM calls GROUP BY 1 ORDER BY 1`));
      expect(seen.rows.map((r) => r.sdk_app_id)).toEqual([A, B]);
    } finally {
      await client.end();
      await ownerQuery(`REVOKE ALL ON calls FROM "${name}"`);
    }
  });

  it('drops a BI role with drop-role, and refuses to drop any other role or to create one without apps', async () => {
    const name = `bi_test_${randomBytes(4).toString('hex')}`;
    rolesToDrop.push(name);
    const created = await bi('create-role', '--name', name, '--apps', `${A},${B}`, '--password', 'a-long-password-123');
    expect(created.code).toBe(0);
    expect((await bi('list')).stdout).toContain(`${name}\tapps=${A},${B}`);
    expect(await bi('drop-role', '--name', name)).toMatchObject({ code: 0 });
    await expect(connectAs(created.stdout.trim())).rejects.toThrow(/role .* does not exist|authentication failed/);
    expect(await ownerQuery(`SELECT * FROM bi_role_apps WHERE role_name = $1`, [name])).toEqual([]);
    const [{ user }] = await ownerQuery(`SELECT current_user AS user`);
    expect(await bi('drop-role', '--name', user)).toMatchObject({ code: 1, stderr: expect.stringContaining('expected a BI role (a member of calltrail_bi)') });
    expect(await bi('create-role', '--name', 'bi_without_apps')).toMatchObject({ code: 1, stderr: expect.stringContaining('--apps: expected comma-separated numeric SDKAppIDs') });
  });

  it('hands PostgreSQL the same SCRAM-SHA-256 verifier PostgreSQL computes for the password', async () => {
    const name = `scram_${randomBytes(4).toString('hex')}`;
    rolesToDrop.push(name);
    await ownerQuery(`SET password_encryption = 'scram-sha-256'`);
    await ownerQuery(`CREATE ROLE "${name}" PASSWORD 'Secret-Password-42'`);
    const [{ rolpassword }] = await ownerQuery(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [name]);
    const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(rolpassword)!;
    expect(scramSha256Verifier('Secret-Password-42', Buffer.from(salt, 'base64'), Number(iterations))).toBe(rolpassword);
  });
});
