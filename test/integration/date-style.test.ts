import { Client } from 'pg';
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { startTestApp } from '../support/app';
import { openTestDatabase } from '../support/database';
import { callEvents } from '../support/dataset';
import { createKey, seed } from '../support/graphql';

/**
 * A database whose default DateStyle is not ISO (a server shared with an application that wants
 * 'SQL, DMY'): every connection calltrail opens sets ISO first (src/db/quiet-client.ts), so its
 * times are read right, on the compiled path and the usual one alike.
 */
const A = '1400000001';
const T = 1_710_028_800; // 2024-03-10T00:00:00Z
const STARTED = '2024-03-10T01:02:03.000Z';

const READS = [
  '{ calls(first: 5) { edges { cursor node { callId startedAt endedAt } } } }',
  '{ participants(filter: { userId: "Bob" }, first: 5) { edges { cursor node { userId invitedAt call { callId startedAt } } } } }',
  '{ call(callId: "c1") { callId startedAt participants { userId invitedAt } events { event eventTime } } }',
];

describe('a database whose DateStyle is not ISO', () => {
  it("is read as an ISO one: a call's times are right, and the same with compiled reads on and off", async () => {
    const base = await openTestDatabase();
    try {
      await seed(base.dataSource, A, callEvents({ callId: 'c1', caller: 'Alice', callees: ['Bob'], start: T + 3723, outcome: 'answered' }));
      const key = await createKey(base.dataSource, 'datestyle', [A]);
      const name = new URL(base.url).pathname.slice(1);
      await base.dataSource.query(`ALTER DATABASE "${name}" SET DateStyle = 'SQL, DMY'`);
      await base.close(); // connections open from now on get the database's DateStyle

      // What any other client of this database now reads.
      const plain = new Client({ connectionString: base.url });
      await plain.connect();
      try {
        const { rows } = await plain.query(`SELECT current_setting('DateStyle') AS style, started_at::text AS started FROM calls WHERE call_id = 'c1'`);
        expect(rows).toEqual([{ style: 'SQL, DMY', started: '10/03/2024 01:02:03 UTC' }]);
      } finally {
        await plain.end();
      }

      const bodies: string[][] = [];
      for (const compiled of ['on', 'off']) {
        // Pools of their own, opened after the ALTER: their connections start with the database's DateStyle.
        const fresh = await openDatabase(loadConfig({ DATABASE_URL: base.url }));
        const app = await startTestApp(
          { GRAPHQL_COMPILED_READS: compiled, LIVE_POLL_MS: '60000', STATS_ROLLUP_INTERVAL_MS: '3600000' },
          { ...fresh, drop: () => fresh.close() },
        );
        try {
          const answers: string[] = [];
          for (const query of READS) {
            const res = await fetch(`${app.baseUrl}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
              body: JSON.stringify({ query }),
            });
            const body = await res.text();
            expect({ query, status: res.status, errors: JSON.parse(body).errors }).toEqual({ query, status: 200, errors: undefined });
            answers.push(body);
          }
          const [calls, history, call] = answers.map((a) => JSON.parse(a).data);
          expect(calls.calls.edges[0].node.startedAt).toBe(STARTED);
          expect(calls.calls.edges[0].node.endedAt).toMatch(/^2024-03-10T01:0\d:\d\d\.000Z$/);
          expect(history.participants.edges[0].node.call.startedAt).toBe(STARTED);
          expect(history.participants.edges[0].node.invitedAt).toBe(STARTED);
          expect(call.call.startedAt).toBe(STARTED);
          expect(call.call.events[0].eventTime).toBe(STARTED);
          bodies.push(answers);
        } finally {
          await app.stop();
          await fresh.close();
        }
      }
      expect(bodies[0]).toEqual(bodies[1]);
    } finally {
      await base.drop();
    }
  });
});
