import { maskQueryString, maskUrl } from './secrets';

describe('maskQueryString', () => {
  it.each([
    ['token=s3cret&sdkappid=1', 'token=***&sdkappid=1'],
    ['sdkappid=1&%74oken=s3cret', 'sdkappid=1&%74oken=***'],
    ['TOKEN=a&Sign=b&RequestTime=1', 'TOKEN=***&Sign=***&RequestTime=1'],
    ['%53ign=b', '%53ign=***'],
    ['authorization=Bearer%20x', 'authorization=***'],
    ['token', 'token=***'],
    ['tokens=keep&mytoken=keep', 'tokens=keep&mytoken=keep'],
    ['%E0%A4%A=bad-escape&token=x', '%E0%A4%A=bad-escape&token=***'],
  ])('masks %s as %s', (input, expected) => {
    expect(maskQueryString(input)).toBe(expected);
  });

  it('masks the query of a URL and keeps its path', () => {
    expect(maskUrl('/callback?sdkappid=1&token=s3cret')).toBe('/callback?sdkappid=1&token=***');
    expect(maskUrl('/callback')).toBe('/callback');
  });
});
