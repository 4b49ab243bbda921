import type { CallEventRecord } from '../calls/records';
import { LiveQueue } from './live-queue';
import { ResumedEvents } from './resumed-events';

const ev = (position: number): CallEventRecord => ({
  position: String(position), sdkAppId: '1', callId: 'c', userId: 'u', role: 'CALLER', type: 'START_CALL', rawEvent: 'start_call',
  callType: 'SINGLE', mediaType: 'AUDIO', callResult: null, eventTime: new Date(0), receivedAt: new Date(0), platform: null, clientIp: null,
});

async function take(stream: ResumedEvents, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await stream.next();
    if (r.done) break;
    out.push(Number(r.value.position));
  }
  return out;
}

describe('ResumedEvents', () => {
  it('serves the replay, then the live queue, skipping what the replay already gave', async () => {
    const queue = new LiveQueue<CallEventRecord>(100, () => undefined, () => undefined);
    [4, 5, 6, 7].forEach((p) => queue.push(ev(p))); // arrived while replaying
    const pages = [[ev(2), ev(3)], [ev(4), ev(5)], []];
    const stream = new ResumedEvents(queue, async () => pages.shift() ?? [], '1', 2);
    expect(await take(stream, 6)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('without replay, serves only live events after the starting position', async () => {
    const queue = new LiveQueue<CallEventRecord>(100, () => undefined, () => undefined);
    [9, 10, 11].forEach((p) => queue.push(ev(p)));
    expect(await take(new ResumedEvents(queue, null, '10', 500), 1)).toEqual([11]);
  });

  it('leaves the hub when the replay fails', async () => {
    const ended = jest.fn();
    const queue = new LiveQueue<CallEventRecord>(100, () => undefined, ended);
    const stream = new ResumedEvents(queue, async () => Promise.reject(new Error('database down')), '1', 2);
    await expect(stream.next()).rejects.toThrow('database down');
    expect(ended).toHaveBeenCalledTimes(1);
  });
});

describe('LiveQueue', () => {
  it('ends and reports overflow past its bound', () => {
    const overflow = jest.fn();
    const ended = jest.fn();
    const queue = new LiveQueue<number>(2, overflow, ended);
    [1, 2, 3].forEach((n) => queue.push(n));
    expect(overflow).toHaveBeenCalledTimes(1);
    expect(ended).toHaveBeenCalledTimes(1);
    expect(queue.size).toBe(0);
  });

  it('ends a waiting reader at once on return()', async () => {
    const queue = new LiveQueue<number>(2, () => undefined, () => undefined);
    const waiting = queue.next();
    await queue.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });
});
