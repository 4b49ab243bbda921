import type { BoardCall } from './types';

/**
 * Ringing and ongoing calls. Live updates (`callUpdated`, in commit order) always win; a snapshot
 * (the `calls` query) fills in only the calls the live stream has not spoken about since the
 * resync began, and drops the ones it no longer lists (they ended while the socket was down).
 */
export class Board {
  private readonly calls = new Map<string, BoardCall>();
  /** Calls the live stream updated since the last `beginResync`. */
  private readonly fresh = new Set<string>();

  /** Call before sending the snapshot query. */
  beginResync(): void {
    this.fresh.clear();
  }

  /** A live update: an ended call leaves the board. */
  update(call: BoardCall): void {
    this.fresh.add(call.id);
    if (call.status === 'ENDED') this.calls.delete(call.id);
    else this.calls.set(call.id, call);
  }

  /** The snapshot of calls not ENDED, taken after `beginResync`. */
  resync(snapshot: readonly BoardCall[]): void {
    const listed = new Set(snapshot.map((c) => c.id));
    for (const id of this.calls.keys()) if (!listed.has(id) && !this.fresh.has(id)) this.calls.delete(id);
    for (const call of snapshot) if (!this.fresh.has(call.id) && call.status !== 'ENDED') this.calls.set(call.id, call);
  }

  /** Ringing calls first, then ongoing; newest first within each. */
  list(): BoardCall[] {
    const rank = (c: BoardCall) => (c.status === 'RINGING' ? 0 : 1);
    const started = (c: BoardCall) => (c.startedAt === null ? 0 : Date.parse(c.startedAt));
    return [...this.calls.values()].sort((a, b) => rank(a) - rank(b) || started(b) - started(a));
  }

  clear(): void {
    this.calls.clear();
    this.fresh.clear();
  }
}
