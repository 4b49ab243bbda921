import { FanoutScheduler } from './fanout-scheduler';
import { LiveOutbox, type Wire } from './live-outbox';
import { LiveSubscription, type Entry, type LiveOutlet } from './live-subscription';

/** A socket in memory: what was written in each corked batch; `limit` bytes fill it. */
class FakeWire implements Wire {
  open = true;
  limit = Infinity;
  buffered = 0;
  corked = 0;
  batches: string[][] = [];
  private drainers: (() => void)[] = [];
  get full(): boolean {
    return this.buffered > this.limit;
  }
  cork(): void {
    if (this.corked++ === 0) this.batches.push([]);
  }
  uncork(): void {
    this.corked--;
  }
  write(text: string): void {
    expect(this.corked).toBeGreaterThan(0);
    this.batches.at(-1)!.push(text);
    this.buffered += text.length;
  }
  onDrain(fn: () => void): void {
    this.drainers.push(fn);
  }
  drain(): void {
    this.buffered = 0;
    this.drainers.splice(0).forEach((fn) => fn());
  }
}

const entry = (position: number): Entry<string> => ({ position: String(position), value: `m${position}` });
const settle = () => new Promise((r) => setImmediate(r));
const subscribe = (outlet: LiveOutlet<string>) =>
  new LiveSubscription<string>({ outlet, max: 1000, startPosition: '0', replay: null, onSlow: () => undefined, onEnd: () => undefined, joinedAt: 0 });

function setup(clock: () => number = () => 0) {
  const wire = new FakeWire();
  const outbox = new LiveOutbox<string>(wire, new FanoutScheduler(2, clock));
  const open = (id: string) => subscribe(outbox.outlet((value) => wire.write(`${id}:${value}`)));
  return { wire, outbox, open };
}

describe('LiveOutbox', () => {
  it('writes the ready messages of all its subscriptions in one corked batch, each subscription in order', async () => {
    const { wire, open } = setup();
    const [a, b] = [open('a'), open('b')];
    [1, 2, 3].forEach((p) => a.offer(entry(p)));
    [2, 3].forEach((p) => b.offer(entry(p)));
    await settle();
    expect(wire.batches).toEqual([['a:m1', 'a:m2', 'a:m3', 'b:m2', 'b:m3']]);
    a.offer(entry(4));
    await settle();
    expect(wire.batches[1]).toEqual(['a:m4']);
  });

  it('stops writing while the socket is full and goes on when it drains, leaving the rest queued', async () => {
    const { wire, open } = setup();
    wire.limit = 7; // full after two messages of 4 characters
    const sub = open('a');
    [1, 2, 3, 4, 5].forEach((p) => sub.offer(entry(p)));
    await settle();
    expect(wire.batches.flat()).toEqual(['a:m1', 'a:m2']);
    expect(sub.size).toBe(3);
    wire.drain();
    await settle();
    expect(wire.batches.flat()).toEqual(['a:m1', 'a:m2', 'a:m3', 'a:m4']);
    wire.drain();
    await settle();
    expect(wire.batches.flat()).toHaveLength(5);
  });

  it('gives the event loop back once the turn has used its budget, then finishes', async () => {
    let now = 0;
    const { wire, open } = setup(() => now);
    const sub = open('a');
    const original = wire.write.bind(wire);
    wire.write = (text) => (original(text), (now += 1)); // each message "takes" 1 ms of a 2 ms budget
    [1, 2, 3, 4, 5].forEach((p) => sub.offer(entry(p)));
    await settle();
    expect(wire.batches.length).toBeGreaterThan(1);
    for (let i = 0; i < 10; i++) await settle();
    expect(wire.batches.flat()).toEqual(['a:m1', 'a:m2', 'a:m3', 'a:m4', 'a:m5']);
  });

  it('writes nothing once the socket has closed', async () => {
    const { wire, outbox, open } = setup();
    const sub = open('a');
    outbox.close();
    sub.offer(entry(1));
    await settle();
    expect(wire.batches).toEqual([]);
  });
});
