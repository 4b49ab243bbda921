import { toFilters } from './filters';

describe('toFilters', () => {
  it.each([
    [{ app: '', user: '', media: '' }, {}],
    [{ app: ' 1400000001 ', user: '', media: '' }, { sdkAppId: '1400000001' }],
    [{ app: '', user: 'Alice', media: 'VIDEO' }, { userId: 'Alice', mediaType: 'VIDEO' }],
    [{ app: '1', user: '  ', media: 'AUDIO' }, { sdkAppId: '1', mediaType: 'AUDIO' }],
    [{ app: '', user: '', media: 'FAX' }, {}],
  ])('turns the form %j into the filter %j', (input, expected) => {
    expect(toFilters(input)).toEqual(expected);
  });
});
