import { AppError } from './app-error';
import { decodeCursor, encodeCursor, eventCursor, eventPosition } from './cursor';

describe('cursors', () => {
  it('round-trips keyset values', () => {
    const cursor = encodeCursor('call', ['2024-01-08T06:32:46.000Z', '42']);
    expect(decodeCursor('after', 'call', 2, cursor)).toEqual(['2024-01-08T06:32:46.000Z', '42']);
  });

  it('round-trips event positions', () => {
    expect(eventPosition('after', eventCursor('9007199254740993'))).toBe('9007199254740993');
  });

  it.each([
    ['garbage', 'not a cursor'],
    ['another kind', encodeCursor('participant', ['a', 'b'])],
    ['the wrong arity', encodeCursor('call', ['a'])],
  ])('refuses %s, naming the argument', (_name, cursor) => {
    expect(() => decodeCursor('after', 'call', 2, cursor)).toThrow(AppError);
    expect(() => decodeCursor('after', 'call', 2, cursor)).toThrow(/^after: expected a call cursor from this API, got "/);
  });

  it('refuses an event cursor whose position is not a number', () => {
    expect(() => eventPosition('after', encodeCursor('event', ['x']))).toThrow('after: expected an event cursor');
  });
});
