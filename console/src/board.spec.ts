import { Board } from './board';
import type { BoardCall } from './types';

const call = (id: string, status: BoardCall['status'], startedAt = '2024-01-08T06:00:00.000Z'): BoardCall => ({
  id,
  sdkAppId: '1400000001',
  callId: id,
  status,
  mediaType: 'AUDIO',
  callerId: 'Alice',
  startedAt,
  acceptedAt: null,
  participants: [],
});
const ids = (board: Board) => board.list().map((c) => `${c.id}:${c.status}`);

describe('Board', () => {
  it('shows a ringing call, then the same call ongoing, and drops it when it ends', () => {
    const board = new Board();
    board.update(call('a', 'RINGING'));
    expect(ids(board)).toEqual(['a:RINGING']);
    board.update(call('a', 'ONGOING'));
    expect(ids(board)).toEqual(['a:ONGOING']);
    board.update(call('a', 'ENDED'));
    expect(ids(board)).toEqual([]);
  });

  it('lists ringing calls first, newest first within a status', () => {
    const board = new Board();
    board.update(call('old', 'RINGING', '2024-01-08T06:00:00.000Z'));
    board.update(call('talk', 'ONGOING', '2024-01-08T07:00:00.000Z'));
    board.update(call('new', 'RINGING', '2024-01-08T06:30:00.000Z'));
    expect(ids(board)).toEqual(['new:RINGING', 'old:RINGING', 'talk:ONGOING']);
  });

  it('lets a live update that arrived during the resync win over the older snapshot', () => {
    const board = new Board();
    board.beginResync();
    board.update(call('a', 'ENDED'));
    board.update(call('b', 'ONGOING'));
    board.resync([call('a', 'RINGING'), call('b', 'RINGING'), call('c', 'RINGING')]);
    expect(ids(board).sort()).toEqual(['b:ONGOING', 'c:RINGING']);
  });

  it('drops calls the snapshot no longer lists: they ended while the socket was down', () => {
    const board = new Board();
    board.update(call('gone', 'RINGING'));
    board.update(call('kept', 'RINGING'));
    board.beginResync();
    board.resync([call('kept', 'ONGOING')]);
    expect(ids(board)).toEqual(['kept:ONGOING']);
  });
});
