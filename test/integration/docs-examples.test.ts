import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app';
import { callEvents } from '../support/dataset';
import { createKey, gql, seed } from '../support/graphql';

const APP = '1400000001';
/** 2024-03-05T00:00:00Z: within the week the docs/api.md example asks about. */
const WEEK = 1_709_596_800;
let t: TestApp;
let key: string;

const read = (file: string) => readFileSync(join(__dirname, '../..', file), 'utf8');
/** The first fenced block of `lang` after `marker` in `text`. */
function blockAfter(text: string, marker: string, lang: string): string {
  const from = text.indexOf(marker);
  expect(from).toBeGreaterThanOrEqual(0);
  const start = text.indexOf(`\`\`\`${lang}\n`, from) + lang.length + 4;
  return text.slice(start, text.indexOf('```', start));
}

beforeAll(async () => {
  t = await startTestApp();
  key = await createKey(t.db.dataSource, 'docs', [APP]);
  await seed(t.db.dataSource, APP, [
    ...callEvents({ callId: 'bob-to-alice', caller: 'Bob', callees: ['Alice'], start: WEEK + 3600, outcome: 'missed' }),
    ...callEvents({ callId: 'alice-to-carol', caller: 'Alice', callees: ['Carol'], start: WEEK + 7200, outcome: 'missed' }),
    ...callEvents({ callId: 'dan-to-alice', caller: 'Dan', callees: ['Alice'], start: WEEK + 9000, outcome: 'answered' }),
  ]);
});
afterAll(() => t.stop());

const missedBy = (data: any) => data.participants.edges.map((e: any) => [e.node.role, e.node.outcome, e.node.call.callId]);

describe('the "every call Alice missed" examples', () => {
  it('README: lists only the calls to Alice she did not answer, not her own unanswered calls', async () => {
    const res = await gql(t.baseUrl, key, blockAfter(read('README.md'), 'every call Alice missed', 'graphql'));
    expect(res.errors).toBeUndefined();
    expect(missedBy(res.data)).toEqual([['CALLEE', 'NO_ANSWER', 'bob-to-alice']]);
  });

  it('docs/api.md: the same, within the week it asks about', async () => {
    const curl = blockAfter(read('docs/api.md'), 'Every call Alice missed last week', 'sh');
    const payload = JSON.parse(curl.slice(curl.indexOf("-d '") + 4, curl.lastIndexOf("'")));
    const res = await gql(t.baseUrl, key, payload.query, payload.variables);
    expect(res.errors).toBeUndefined();
    expect(missedBy(res.data)).toEqual([['CALLEE', 'NO_ANSWER', 'bob-to-alice']]);
  });

  it('would also list her own unanswered call without the role, which is why the examples ask for CALLEE', async () => {
    const res = await gql(t.baseUrl, key, '{ participants(filter: { userId: "Alice", outcome: [NO_ANSWER] }) { edges { node { role outcome call { callId } } } } }');
    expect(missedBy(res.data)).toEqual([
      ['CALLER', 'NO_ANSWER', 'alice-to-carol'],
      ['CALLEE', 'NO_ANSWER', 'bob-to-alice'],
    ]);
  });
});

describe('the Apollo Sandbox step of the README', () => {
  const INTROSPECTION = '{ __schema { queryType { name } } }';

  it('gets no schema without the Authorization header, and the schema with it', async () => {
    const without = await gql(t.baseUrl, null, INTROSPECTION);
    expect(without.status).toBe(401);
    expect(without.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const withKey = await gql(t.baseUrl, key, INTROSPECTION);
    expect(withKey.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});
