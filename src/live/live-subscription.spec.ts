import { EntryStream } from './live-streams';
import { LiveSubscription, positionAfter, type Entry, type Replay, type SubscriptionOptions } from './live-subscription';

const entry = (position: number): Entry<string> => ({ position: String(position), value: `e${position}` });
const inFlight = (position: number): Entry<string> => ({ position: String(position), value: undefined });
const settle = () => new Promise((r) => setImmediate(r));

function subscription(over: Partial<SubscriptionOptions<string>> = {}) {
  const calls = { slow: [] as string[], ended: 0, ready: 0 };
  const stream = new EntryStream<string>();
  const sub = new LiveSubscription<string>({
    outlet: { ready: () => (calls.ready++, stream.ready()) },
    max: 100,
    startPosition: '0',
    replay: null,
    onSlow: (position) => calls.slow.push(position),
    onEnd: () => calls.ended++,
    joinedAt: 1,
    ...over,
  });
  stream.attach(sub);
  sub.start();
  return { sub, stream, calls };
}

async function read(stream: EntryStream<string>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await stream.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

const pages = (...list: number[][]): Replay<string> => {
  const queue = list.map((p) => p.map((n) => entry(n)));
  return { size: 2, page: async () => queue.shift() ?? [] };
};

describe('LiveSubscription', () => {
  it('serves the replay, then the live queue, skipping what the replay already gave', async () => {
    const { sub, stream } = subscription({ startPosition: '1', replay: pages([2, 3], [4, 5], []) });
    [4, 5, 6, 7].forEach((p) => sub.offer(entry(p))); // arrived while replaying
    expect(await read(stream, 6)).toEqual(['e2', 'e3', 'e4', 'e5', 'e6', 'e7']);
  });

  it('skips live entries at or below a resume cursor that is ahead of the stored ones', async () => {
    const { sub, stream } = subscription({ startPosition: '10', replay: pages([]) });
    [9, 10, 11].forEach((p) => sub.offer(entry(p)));
    expect(await read(stream, 1)).toEqual(['e11']);
  });

  it('holds back the entries after one whose rendering is in flight, and goes on when told', async () => {
    const { sub, stream } = subscription();
    const pending = inFlight(1);
    sub.offer(pending);
    sub.offer(entry(2));
    expect(sub.take()).toBeNull();
    pending.value = 'late';
    sub.notify();
    expect(await read(stream, 2)).toEqual(['late', 'e2']);
  });

  it('ends with the error of an entry whose rendering failed', async () => {
    const { sub, stream, calls } = subscription();
    sub.offer({ position: '1', value: undefined, error: new Error('resolver exploded') });
    await expect(stream.next()).rejects.toThrow('resolver exploded');
    expect(calls.ended).toBe(1);
  });

  it('leaves the hub when the replay fails', async () => {
    const { sub, stream, calls } = subscription({ startPosition: '1', replay: { size: 2, page: () => Promise.reject(new Error('database down')) } });
    await expect(stream.next()).rejects.toThrow('database down');
    await expect(sub.closed).rejects.toThrow('database down');
    expect(calls.ended).toBe(1);
  });

  it('is cut past its bound, with the position of the last entry it handed out', async () => {
    const { sub, calls } = subscription({ max: 2 });
    sub.offer(entry(1));
    expect(sub.take()?.position).toBe('1');
    [2, 3, 4].forEach((p) => sub.offer(entry(p)));
    expect(calls.slow).toEqual(['1']);
    expect(calls.ended).toBe(1);
    expect(sub.size).toBe(0);
    expect(sub.take()).toBeNull();
    await expect(sub.closed).resolves.toBeUndefined();
  });

  it('tells its outlet only about entries it can hand out', async () => {
    const { sub, calls } = subscription({ startPosition: '1', replay: pages([]) });
    sub.offer(entry(2)); // while replaying: the replay decides when the queue is served
    const before = calls.ready;
    await settle();
    expect(calls.ready).toBe(before + 1); // the (empty) replay page arrived
    sub.offer(inFlight(3));
    expect(calls.ready).toBe(before + 1);
  });
});

describe('EntryStream', () => {
  it('ends a waiting reader at once on return()', async () => {
    const { stream, calls } = subscription();
    const waiting = stream.next();
    await stream.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(calls.ended).toBe(1);
  });
});

describe('positionAfter', () => {
  it.each([
    ['10', '9', true],
    ['9', '10', false],
    ['123', '122', true],
    ['5', '5', false],
    ['9223372036854775807', '999', true],
  ])('%s after %s: %s', (a, b, expected) => expect(positionAfter(a, b)).toBe(expected));
});
