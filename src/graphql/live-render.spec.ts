import { parse, subscribe, type GraphQLSchema } from 'graphql';
import type { CallEventRecord } from '../calls/records';
import { ALL_APPS } from '../domain/app-scope';
import type { LiveRenderer } from '../live/live-groups';
import type { GraphQLContext } from './context';
import { lastResult } from './live-render';
import { buildCalltrailSchema } from './schema';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildCalltrailSchema();
});

const record: CallEventRecord = {
  position: '42', sdkAppId: '1400000001', callId: 'c1', userId: 'alice', role: 'CALLER', type: 'START_CALL', rawEvent: 'start_call',
  callType: 'SINGLE', mediaType: 'VIDEO', callResult: null, eventTime: new Date('2024-01-08T06:32:46Z'), receivedAt: new Date('2024-01-08T06:32:47Z'), platform: 'iOS', clientIp: null,
};

/** The renderer the resolver builds for a subscription (captured from the hub it registers with). */
async function rendererOf(query: string, variables: Record<string, unknown> = {}, services: unknown = { primary: {} }): Promise<LiveRenderer<CallEventRecord, Buffer>> {
  let captured: LiveRenderer<CallEventRecord, Buffer> | null = null;
  const hub = {
    deliverEvents: (_scope: unknown, _filter: unknown, _after: unknown, _onSlow: unknown, delivery: { renderer: LiveRenderer<CallEventRecord, Buffer> }) => {
      captured = delivery.renderer;
      return (async function* () {})();
    },
  };
  const contextValue = { scope: ALL_APPS, services, live: { hub, onSlowConsumer: () => undefined, outlet: { ready: () => undefined }, formatError: (e: Error) => ({ message: e.message }) } } as unknown as GraphQLContext;
  const result = await subscribe({ schema, document: parse(query), variableValues: variables, contextValue });
  if (captured === null) throw new Error(`test: expected the resolver to register, got ${JSON.stringify(result)}`);
  return captured;
}
const json = (out: Buffer | Promise<Buffer>) => JSON.parse(String(out));

describe('liveRenderer', () => {
  it('renders the selection of an event as the payload graphql-ws would send', async () => {
    const r = await rendererOf('subscription { e: callEventAdded { id cursor event mediaType eventTime } }');
    expect(json(r.render(record))).toEqual({ data: { e: { id: '42', cursor: 'WyJldmVudCIsIjQyIl0', event: 'START_CALL', mediaType: 'VIDEO', eventTime: '2024-01-08T06:32:46.000Z' } } });
  });

  it('gives one key to subscriptions whose output cannot differ, whatever their filter, cursor or spelling', async () => {
    const keys = await Promise.all([
      rendererOf('subscription($f: CallEventFilter, $a: String) { callEventAdded(filter: $f, after: $a) { id userId } }', { f: { userId: 'alice' }, a: null }),
      rendererOf('subscription($g: CallEventFilter) { callEventAdded(filter: $g) { id  userId } }', { g: { mediaType: 'AUDIO' } }),
      rendererOf('subscription { callEventAdded { ...F } } fragment F on CallEvent { id userId }'),
    ]);
    expect(keys[1].key).toBe(keys[0].key);
    expect(keys[2].key).not.toBe(keys[0].key); // a fragment is another spelling, kept apart: sharing only needs equal keys to be safe
  });

  it('keeps apart selections whose output differs: fields, aliases, and variables inside the selection', async () => {
    const base = await rendererOf('subscription { callEventAdded { id } }');
    const other = await Promise.all([
      rendererOf('subscription { callEventAdded { id userId } }'),
      rendererOf('subscription { x: callEventAdded { id } }'),
      rendererOf('subscription($u: Boolean!) { callEventAdded { id userId @include(if: $u) } }', { u: true }),
      rendererOf('subscription($u: Boolean!) { callEventAdded { id userId @include(if: $u) } }', { u: false }),
    ]);
    expect(new Set([base.key, ...other.map((r) => r.key)]).size).toBe(5);
    expect(json(other[2].render(record))).toEqual({ data: { callEventAdded: { id: '42', userId: 'alice' } } });
    expect(json(other[3].render(record))).toEqual({ data: { callEventAdded: { id: '42' } } });
  });

  it("reads nested fields through the primary's repositories, never the replica's (docs/scaling.md, Read replicas)", async () => {
    const asked: string[] = [];
    const calls = (where: string) => ({
      findByKeys: async (_scope: unknown, keys: readonly { callId: string }[]) => {
        asked.push(where);
        return keys.map((k) => ({ sdkAppId: '1400000001', callId: k.callId, status: where === 'primary' ? 'RINGING' : 'ENDED' }));
      },
    });
    const services = { calls: calls('replica'), primary: { calls: calls('primary') } };
    const r = await rendererOf('subscription { callEventAdded { id call { callId } } }', {}, services);
    expect(await json(await r.render(record))).toEqual({ data: { callEventAdded: { id: '42', call: { callId: 'c1' } } } });
    expect(asked).toEqual(['primary']);
  });
});

describe('lastResult', () => {
  it('calls the function once for the same item in a row, again for another', () => {
    const calls: string[] = [];
    const f = lastResult((s: { n: string }) => (calls.push(s.n), s.n.toUpperCase()));
    const [a, b] = [{ n: 'a' }, { n: 'b' }];
    expect([f(a), f(a), f(b), f(a)]).toEqual(['A', 'A', 'B', 'A']);
    expect(calls).toEqual(['a', 'b', 'a']);
  });
});
