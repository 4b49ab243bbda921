import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: [{ d: 2, c: 'x' }] }, '{"a":[{"c":"x","d":2}],"b":1}'],
    [{ a: undefined, b: null }, '{"b":null}'],
    ['text', '"text"'],
    [[3, 1], '[3,1]'],
  ])('serialises %j as %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('gives the same text whatever the key order', () => {
    expect(canonicalJson({ UserId: 'a', CallId: 'c' })).toBe(canonicalJson({ CallId: 'c', UserId: 'a' }));
  });
});
