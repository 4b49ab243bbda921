import { measuresOf, rawOnlyReason, rollupWindow, ZONE_CHECK_WINDOW, type StatsRequest } from './stats-plan';

const at = (iso: string) => new Date(iso);
const request = (over: Partial<StatsRequest>): StatsRequest => ({ groupBy: [], interval: 'DAY', timeZone: 'UTC', measures: ['calls'], ...over });

describe('measuresOf', () => {
  it('keeps the aggregate fields in a stable order and ignores the others', () => {
    expect(measuresOf(['p95TalkSeconds', 'bucket', 'calls', '__typename', 'calls'])).toEqual(['calls', 'p95TalkSeconds']);
  });
});

describe('rawOnlyReason', () => {
  it.each<[string, Partial<StatsRequest>, string | null]>([
    ['app, dimensions and a time range', { filter: { sdkAppId: '1', mediaType: 'AUDIO', status: ['ENDED'], startedAt: { from: at('2024-01-01') } } }, null],
    ['a user', { filter: { userId: 'u1' } }, 'a user filter'],
    ['a user in a role', { filter: { userId: 'u1', role: 'CALLER' } }, 'a user filter'],
    ['a call id', { filter: { callId: 'c1' } }, 'a call or room filter'],
    ['a room id', { filter: { roomId: 'r1' } }, 'a call or room filter'],
    ['a median', { measures: ['calls', 'p50TalkSeconds'] }, 'a percentile'],
    ['a 95th percentile', { measures: ['p95TalkSeconds'] }, 'a percentile'],
    ['only sums and averages', { measures: ['answerRate', 'avgTalkSeconds', 'totalTalkSeconds', 'missed'] }, null],
  ])('%s', (_name, over, expected) => {
    expect(rawOnlyReason(request(over))).toBe(expected);
  });
});

describe('rollupWindow', () => {
  const window = (from: string | null, to: string | null) => ({ from: from === null ? null : at(from), to: to === null ? null : at(to) });

  it.each<[string, { from?: Date; to?: Date } | null, ReturnType<typeof window> | null]>([
    ['no range: everything', null, window(null, null)],
    ['whole hours as asked', { from: at('2024-01-01T00:00Z'), to: at('2024-01-31T00:00Z') }, window('2024-01-01T00:00Z', '2024-01-31T00:00Z')],
    ['partial edge hours left out', { from: at('2024-01-01T00:30Z'), to: at('2024-01-02T10:59:59.999Z') }, window('2024-01-01T01:00Z', '2024-01-02T10:00Z')],
    ['an open start', { to: at('2024-01-02T10:15Z') }, window(null, '2024-01-02T10:00Z')],
    ['within one hour: none', { from: at('2024-01-01T10:15Z'), to: at('2024-01-01T10:45Z') }, null],
    ['across one hour boundary only: none', { from: at('2024-01-01T10:15Z'), to: at('2024-01-01T11:45Z') }, null],
  ])('UTC, %s', (_name, range, expected) => {
    expect(rollupWindow(range, 'all')).toEqual(expected);
  });

  it('keeps a checked zone inside the window where its hours were checked', () => {
    expect(rollupWindow(null, ZONE_CHECK_WINDOW)).toEqual(window('2001-01-01T00:00Z', '2061-01-01T00:00Z'));
    expect(rollupWindow({ from: at('1990-01-01T00:00Z'), to: at('2024-01-01T05:00Z') }, ZONE_CHECK_WINDOW)).toEqual(window('2001-01-01T00:00Z', '2024-01-01T05:00Z'));
    expect(rollupWindow({ from: at('2070-01-01T00:00Z') }, ZONE_CHECK_WINDOW)).toBeNull();
  });

  it('gives nothing for a zone whose hours do not keep one bucket', () => {
    expect(rollupWindow({ from: at('2024-01-01T00:00Z') }, null)).toBeNull();
  });
});
