import { callKeyText, groupByCall } from './call-key';

describe('call keys', () => {
  it('tells apart the same CallId in two apps', () => {
    expect(callKeyText({ sdkAppId: '1', callId: 'c' })).not.toBe(callKeyText({ sdkAppId: '2', callId: 'c' }));
  });

  it('cannot be forged by a CallId that contains the separator of another key', () => {
    expect(callKeyText({ sdkAppId: '1', callId: '2\nc' })).not.toBe(callKeyText({ sdkAppId: '12', callId: 'c' }));
  });

  it('groups rows under their call in the order of the keys, with an empty list for a call without rows', () => {
    const keys = [
      { sdkAppId: '2', callId: 'b' },
      { sdkAppId: '1', callId: 'a' },
      { sdkAppId: '1', callId: 'none' },
    ];
    const rows = [
      { sdkAppId: '1', callId: 'a', n: 1 },
      { sdkAppId: '2', callId: 'b', n: 2 },
      { sdkAppId: '1', callId: 'a', n: 3 },
      { sdkAppId: '3', callId: 'stray', n: 4 },
    ];
    expect(groupByCall(keys, rows).map((g) => g.map((r) => r.n))).toEqual([[2], [1, 3], []]);
  });
});
