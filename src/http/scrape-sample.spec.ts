import { ScrapeSample } from './scrape-sample';

/** A read whose answers the test releases one by one. */
function controlledRead() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  const read = jest.fn(() => new Promise<number>((resolve, reject) => pending.push({ resolve, reject })));
  return { read, pending };
}

describe('ScrapeSample', () => {
  it('reads once per TTL however often it is asked', async () => {
    let now = 0;
    let n = 0;
    const sample = new ScrapeSample(async () => ++n, 1000, 1000, () => now);
    expect(await sample.get()).toBe(1);
    now = 999;
    expect(await Promise.all([sample.get(), sample.get()])).toEqual([1, 1]);
    now = 1000;
    expect(await sample.get()).toBe(2);
  });

  it('answers the last value once a read takes longer than the wait, with one read in flight at a time', async () => {
    let now = 0;
    const { read, pending } = controlledRead();
    const sample = new ScrapeSample(read, 1000, 20, () => now);
    const first = sample.get();
    pending[0].resolve(7);
    expect(await first).toBe(7);
    now = 5000;
    expect(await sample.get()).toBe(7); // the read hangs: the last value after 20 ms
    expect(await sample.get()).toBe(7);
    expect(read).toHaveBeenCalledTimes(2);
    pending[1].resolve(8);
    await new Promise((r) => setImmediate(r));
    now = 5001;
    expect(await sample.get()).toBe(8);
  });

  it('is null until a read succeeds, and keeps the last value when a read fails', async () => {
    let now = 0;
    const { read, pending } = controlledRead();
    const sample = new ScrapeSample(read, 1000, 1000, () => now);
    const failed = sample.get();
    pending[0].reject(new Error('down'));
    expect(await failed).toBeNull();
    const ok = sample.get();
    pending[1].resolve(3);
    expect(await ok).toBe(3);
    now = 2000;
    const again = sample.get();
    pending[2].reject(new Error('down'));
    expect(await again).toBe(3);
  });
});
