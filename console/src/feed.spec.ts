import { Feed } from './feed';
import type { FeedEvent } from './types';

const event = (cursor: string): FeedEvent => ({
  cursor,
  sdkAppId: '1400000001',
  callId: `call-${cursor}`,
  event: 'START_CALL',
  userId: 'Alice',
  role: 'CALLER',
  mediaType: 'AUDIO',
  eventTime: '2024-01-08T06:32:46.000Z',
});

describe('Feed', () => {
  it('shows the newest event first and keeps at most max rows', () => {
    const feed = new Feed(3);
    ['1', '2', '3', '4'].forEach((c) => feed.add(event(c)));
    expect(feed.rows.map((r) => r.cursor)).toEqual(['4', '3', '2']);
  });

  it('skips an event it already handled and keeps the resume cursor where it was', () => {
    const feed = new Feed(10);
    expect(feed.add(event('1'))).toBe(true);
    expect(feed.add(event('2'))).toBe(true);
    expect(feed.add(event('2'))).toBe(false);
    expect([feed.has('2'), feed.has('3')]).toEqual([true, false]);
    expect(feed.rows).toHaveLength(2);
    expect(feed.lastCursor).toBe('2');
  });

  it('remembers handled cursors beyond the rows it shows, up to a bound', () => {
    const feed = new Feed(1, 3);
    ['1', '2', '3'].forEach((c) => feed.add(event(c)));
    expect(feed.add(event('1'))).toBe(false);
    feed.add(event('4'));
    expect(feed.add(event('1'))).toBe(true);
  });

  it('forgets everything on clear, so a new filter starts from live events', () => {
    const feed = new Feed(10);
    feed.add(event('1'));
    feed.clear();
    expect([feed.rows.length, feed.lastCursor, feed.add(event('1'))]).toEqual([0, null, true]);
  });
});
