import { makeCallback, SDKAPPID } from '../../test/support/callbacks';
import type { Refusal } from '../quarantine/quarantine.service';
import { BatchWriter } from './batch-writer';
import { IngestService, type IngestRequest } from './ingest.service';

const SECRET = 'callback-secret-0123';

function setup() {
  const kept: Refusal[] = [];
  const writer = new BatchWriter({ writeBatch: async (events) => events.map(() => 'stored' as const) }, { maxBatch: 10, timeoutMs: 1000, maxPending: 10 });
  const service = new IngestService({ sdkAppIds: [SDKAPPID], secret: SECRET, signToken: null, signWindowSeconds: 300 }, writer, {
    keep: async (r: Refusal) => {
      kept.push(r);
      return 'kept' as const;
    },
  });
  return { kept, service };
}

const request = (query: Record<string, string>, body: object = makeCallback()): IngestRequest => {
  const rawBody = Buffer.from(JSON.stringify(body));
  return { query, queryString: new URLSearchParams(query).toString(), rawBody, bodyBytes: rawBody.length, contentEncoding: null, source: '10.0.0.1' };
};

describe('IngestService: what a refusal says of its credentials', () => {
  it.each<[string, Record<string, string>, object, string, boolean]>([
    ['an unknown app with the right token', { sdkappid: '1400000009', token: SECRET }, makeCallback(), 'UNKNOWN_APP', true],
    ['an unknown app with a wrong token', { sdkappid: '1400000009', token: 'nope' }, makeCallback(), 'UNKNOWN_APP', false],
    ['an unknown app with no token', { sdkappid: '1400000009' }, makeCallback(), 'UNKNOWN_APP', false],
    ['our app with a wrong token', { sdkappid: SDKAPPID, token: 'nope' }, makeCallback(), 'BAD_TOKEN', false],
    ['a bad body with the right token', { sdkappid: SDKAPPID, token: SECRET }, { UserId: 'Alice' }, 'INVALID_FIELD', true],
  ])('records whether %s had valid credentials', async (_name, query, body, code, credentialsOk) => {
    const { kept, service } = setup();
    await expect(service.receive(request(query, body))).rejects.toMatchObject({ code });
    expect(kept).toEqual([expect.objectContaining({ errorCode: code, credentialsOk })]);
  });
});
