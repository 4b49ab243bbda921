import { maskQueryString, maskQueryValue, maskUrl } from './secrets';

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
    ['sdkappid=1&x=1;token=SEMISECRET5', 'sdkappid=1&x=1;token=***'],
    ['sdkappid=1;Sign=abc;RequestTime=1', 'sdkappid=1;Sign=***;RequestTime=1'],
    ['x=1;%61uthorization=Bearer%20k&y=2', 'x=1;%61uthorization=***&y=2'],
    [';;token=a;&sign', ';;token=***;&sign=***'],
    ['a=1;b=2&c=3', 'a=1;b=2&c=3'],
  ])('masks %s as %s', (input, expected) => {
    expect(maskQueryString(input)).toBe(expected);
  });

  it('masks the query of a URL and keeps its path', () => {
    expect(maskUrl('/callback?sdkappid=1&token=s3cret')).toBe('/callback?sdkappid=1&token=***');
    expect(maskUrl('/callback?sdkappid=1&x=1;token=SEMISECRET5')).toBe('/callback?sdkappid=1&x=1;token=***');
    expect(maskUrl('/callback')).toBe('/callback');
  });
});

describe('maskQueryValue', () => {
  it.each([
    ['sdkappid', '1;token=SEMISECRET5', '1;token=***'],
    ['RequestTime', '1700000000;Sign=abc', '1700000000;Sign=***'],
    ['clientip', '10.0.0.1', '10.0.0.1'],
    ['optplatform', 'a;b', 'a;b'],
    ['token', 'part;token=rest', 'part;token=rest'],
    ['Sign', 'abc;sign=def', 'abc;sign=def'],
  ])('gives %s=%s as %s', (name, value, expected) => {
    expect(maskQueryValue(name, value)).toBe(expected);
  });
});
