import { bearerKey, InFlightPerKey } from './in-flight';

describe('InFlightPerKey', () => {
  it('admits up to max operations per key, each key apart', () => {
    const limit = new InFlightPerKey(2);
    expect(limit.acquire('a')).not.toBeNull();
    expect(limit.acquire('a')).not.toBeNull();
    expect(limit.acquire('a')).toBeNull();
    expect(limit.acquire('b')).not.toBeNull();
  });

  it('frees a slot once per release, however often release is called, and forgets idle keys', () => {
    const limit = new InFlightPerKey(1);
    const release = limit.acquire('a')!;
    release();
    release(); // a second call (finish, then close) must not free another request's slot
    const again = limit.acquire('a')!;
    expect(limit.acquire('a')).toBeNull();
    again();
    expect(limit.keys).toBe(0);
  });

  it('keeps no key in memory, only its hash', () => {
    const limit = new InFlightPerKey(1);
    limit.acquire('ctk_secret-value');
    expect(JSON.stringify([...(limit as unknown as { counts: Map<string, number> }).counts.keys()])).not.toContain('secret');
  });
});

describe('bearerKey', () => {
  it.each([
    ['Bearer ctk_abc', 'ctk_abc'],
    ['bearer   ctk_abc  ', 'ctk_abc'],
    ['Basic dXNlcjpwYXNz', null],
    [undefined, null],
  ])('reads %j as %j', (header, key) => {
    expect(bearerKey(header)).toBe(key);
  });
});
