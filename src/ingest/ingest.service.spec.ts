import { makeCallback, SDKAPPID } from '../../test/support/callbacks';
import { makeMemberChanged } from '../../test/support/callbacks-v4';
import type { Refusal, QuarantineService } from '../quarantine/quarantine.service';
import { BatchWriter, type EventStore, type SpoolSink } from './batch-writer';
import type { WriteResult } from './ingest.repository';
import { IngestService, type IngestRequest } from './ingest.service';
import type { CallbackEvent } from './trtc-v1.schema';

/** A store in memory that dedupes on the key, and fails as told. */
class FakeStore implements EventStore {
  readonly keys = new Set<string>();
  fail: ((events: readonly CallbackEvent[]) => unknown) | null = null;
  async writeBatch(events: readonly CallbackEvent[]): Promise<WriteResult[]> {
    const error = this.fail?.(events);
    if (error) throw error;
    return events.map((e) => (this.keys.has(e.dedupeKey) ? 'duplicate' : (this.keys.add(e.dedupeKey), 'stored')));
  }
}

function setup() {
  const store = new FakeStore();
  const spooled: CallbackEvent[] = [];
  const spool: SpoolSink = { append: async (events) => void spooled.push(...events) };
  const kept: Refusal[] = [];
  const quarantine = { keep: async (r: Refusal) => void kept.push(r) } as unknown as QuarantineService;
  const writer = new BatchWriter(store, { maxBatch: 500, timeoutMs: 1000, maxPending: 100, spool });
  const service = new IngestService({ sdkAppIds: null, secret: null, signToken: null, signWindowSeconds: 300 }, writer, quarantine);
  return { store, spooled, kept, service };
}

const request = (body: object, query: Record<string, string>): IngestRequest => {
  const rawBody = Buffer.from(JSON.stringify(body));
  return { query: { sdkappid: SDKAPPID, ...query }, queryString: '', rawBody, bodyBytes: rawBody.length, contentEncoding: null, source: '127.0.0.1' };
};
const v4 = () => request(makeMemberChanged([['Bob', 'Accept'], ['Carol', 'Join']]), { callbackcommand: 'Call.CallbackAfterMemberChanged' });

describe('IngestService with v1 and v4 callbacks', () => {
  it('stores a v1 callback as one event', async () => {
    const { store, service } = setup();
    await expect(service.receive(request(makeCallback(), { command: 'caller_start_call' }))).resolves.toBe('stored');
    expect(store.keys.size).toBe(1);
  });

  it('stores every event of a v4 callback and answers duplicate to its redelivery', async () => {
    const { store, service } = setup();
    await expect(service.receive(v4())).resolves.toBe('stored');
    await expect(service.receive(v4())).resolves.toBe('duplicate');
    expect([...store.keys].map((k) => k.split(':')[1])).toEqual(['0', '1']);
  });

  it('answers spooled when the database cannot take a v4 callback, with every event in the spool', async () => {
    const { store, spooled, service } = setup();
    store.fail = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    await expect(service.receive(v4())).resolves.toBe('spooled');
    expect(spooled.map((e) => [e.userId, e.type])).toEqual([['Bob', 'MEMBER_ACCEPTED'], ['Carol', 'MEMBER_JOINED']]);
  });

  it('answers a v4 callback with the refusal of an event PostgreSQL refused, keeps it in quarantine once, and stores the rest', async () => {
    const { store, kept, service } = setup();
    store.fail = (events) => (events.some((e) => e.userId === 'Carol') ? Object.assign(new Error('out of range'), { code: '22003' }) : null);
    await expect(service.receive(v4())).rejects.toMatchObject({ code: 'INVALID_FIELD' });
    expect(kept.map((r) => r.errorCode)).toEqual(['INVALID_FIELD']);
    expect(store.keys.size).toBe(1);
  });
});
