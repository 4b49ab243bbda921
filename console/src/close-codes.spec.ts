import { backoffMs, closeAction } from './close-codes';

describe('closeAction', () => {
  it.each([
    [1001, true],
    [1006, true],
    [1013, true],
    [4290, true],
    [4408, true],
    [null, true],
    [4401, false],
    [4403, false],
    [4400, false],
    [1009, false],
  ])('for close code %p retries: %p', (code, retry) => {
    expect(closeAction(code).retry).toBe(retry);
  });

  it('asks for a valid key when the key is refused', () => {
    expect(closeAction(4403).message).toMatch(/API key was refused/);
  });

  it('names the code and the reason of a request the server refuses', () => {
    expect(closeAction(4400, 'Invalid message')).toEqual({ retry: false, message: "The server refused the console's request (code 4400: Invalid message)." });
  });
});

describe('backoffMs', () => {
  it('doubles from 500 ms and stops growing at 5 s', () => {
    const top = (attempt: number) => backoffMs(attempt, () => 1);
    expect([1, 2, 3, 4, 5, 6, 20].map(top)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('waits at least half of the ceiling', () => {
    expect(backoffMs(3, () => 0)).toBe(1000);
  });
});
