import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandOf, makeCallback, makeStatusCallback, T0 } from '../support/callbacks';
import { makeEndCall } from '../support/callbacks-v4';
import { runCli } from '../support/cli';
import { openTestDatabase, type TestDatabase } from '../support/database';

const A = '1400000001';
const OTHER = '1400000009';
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await openTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'calltrail-import-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

const wrapped = (body: Record<string, unknown>, app = A) => JSON.stringify({ query: `sdkappid=${app}&command=${commandOf(body)}&contenttype=json`, body });
const start = makeCallback({ CallId: 'imp-1' });
const ARCHIVE = [
  wrapped(start), // 1
  JSON.stringify({ query: `sdkappid=${A}&command=callee_receive_call`, body: JSON.stringify(makeCallback({ CallId: 'imp-1', UserId: 'Bob', Role: 'callee', Event: 'receive_call', EventTime: T0 + 1 })) }), // 2: body as text
  JSON.stringify(makeCallback({ CallId: 'imp-1', UserId: 'Bob', Role: 'callee', Event: 'accept_call', EventTime: T0 + 4 })), // 3: bare, for --app
  JSON.stringify(makeEndCall({ CallId: 'imp-2' })), // 4: bare v4 record
  wrapped(makeStatusCallback({ CallId: 'imp-1', EventTime: T0 + 70, StartCallTs: T0, AcceptTs: T0 + 4, EndTs: T0 + 70 })), // 5
  '', // 6: blank, not counted
  '{"query": "sdkappid=1', // 7: cut short
  wrapped(makeCallback({ CallId: 'imp-3' }), OTHER), // 8: an app SDKAPPIDS does not list
  wrapped(makeCallback({ CallId: '' })), // 9: no CallId
  wrapped(start), // 10: line 1 again
].join('\n');

const importArchive = (file: string) => runCli('import', [file, '--app', A], { DATABASE_URL: db.url, SDKAPPIDS: A });
const eventCount = async () => (await db.dataSource.query(`SELECT count(*)::int AS n FROM call_events`))[0].n as number;

describe('npm run import', () => {
  it('stores each archived callback once, folds the calls, and lists refused lines with their reasons', async () => {
    const file = join(dir, 'archive.jsonl');
    writeFileSync(file, ARCHIVE);
    const first = await importArchive(file);
    expect(first.stdout).toContain(`imported ${file}: 9 lines: 5 stored, 1 duplicate, 3 refused`);
    expect(first.stdout).toMatch(/INVALID_JSON \(1\): line: expected JSON.*\n\s+lines 7\n/);
    expect(first.stdout).toMatch(/UNKNOWN_APP \(1\): sdkappid: expected an SDKAppID this server accepts, got "1400000009"\n\s+lines 8\n/);
    expect(first.stdout).toMatch(/INVALID_FIELD \(1\): CallId: .*\n\s+lines 9(\n|$)/);
    expect(first.code).toBe(2);
    // v4's record is one event per user it names (Alice and Bob).
    expect(await eventCount()).toBe(6);
    const calls = await db.dataSource.query(`SELECT call_id, status, result, caller_id, talk_seconds FROM calls ORDER BY call_id`);
    expect(calls).toEqual([
      { call_id: 'imp-1', status: 'ENDED', result: 'NORMAL_END', caller_id: 'Alice', talk_seconds: 66 },
      { call_id: 'imp-2', status: 'ENDED', result: 'NORMAL_END', caller_id: 'Alice', talk_seconds: 60 },
    ]);
    expect((await db.dataSource.query(`SELECT count(*)::int AS n FROM rejected_callbacks`))[0].n).toBe(0);
  }, 60000);

  it('stores nothing more when the same archive is imported again', async () => {
    const file = join(dir, 'archive.jsonl');
    const again = await importArchive(file);
    expect(again.stdout).toContain(`imported ${file}: 9 lines: 0 stored, 6 duplicate, 3 refused`);
    expect(await eventCount()).toBe(6);
  }, 60000);

  it('explains a missing file argument and a bad --app', async () => {
    const none = await runCli('import', [], { DATABASE_URL: db.url });
    expect(none).toMatchObject({ code: 1, stderr: expect.stringContaining('FILE: expected the archive to import, got nothing') });
    const badApp = await runCli('import', [join(dir, 'archive.jsonl'), '--app', 'my-app'], { DATABASE_URL: db.url });
    expect(badApp).toMatchObject({ code: 1, stderr: expect.stringContaining('--app: expected a numeric SDKAppID, got "my-app"') });
  }, 60000);
});
