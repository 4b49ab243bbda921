import type { DataSource } from 'typeorm';
import { ALL_APPS, type AppScope } from '../domain/app-scope';
import { eventCursor } from '../domain/cursor';
import type { CallEventFilter } from '../domain/filters';
import { CallEventRepository } from './call-event.repository';
import { CallRepository } from './call.repository';
import { ParticipantRepository } from './participant.repository';
import type { CallKey } from '../domain/call-key';
import { EVENT_COLUMNS, type CallEventRecord, type CallRecord, type ParticipantRecord } from './records';

/** A call with its participants, as pushed to `callUpdated` subscribers. */
export interface LiveCallRecord extends CallRecord {
  readonly participants: readonly ParticipantRecord[];
}

/**
 * What the live hub reads: every app's new events once per replica, then filters in memory.
 * (Scope is applied by the hub per subscriber, not here.)
 */
export class LiveRepository {
  private readonly calls: CallRepository;
  private readonly participants: ParticipantRepository;
  private readonly events: CallEventRepository;

  constructor(private readonly dataSource: DataSource) {
    this.calls = new CallRepository(dataSource);
    this.participants = new ParticipantRepository(dataSource);
    this.events = new CallEventRepository(dataSource);
  }

  /**
   * Stored events matching a subscriber's filter, within its scope, after a position. Refused with
   * `CURSOR_EXPIRED` when retention deleted an event after that position, or when the position is
   * beyond any this database gave out (CallEventRepository.list, on the primary).
   */
  async replay(scope: AppScope, filter: CallEventFilter | null | undefined, afterPosition: string, limit: number): Promise<readonly CallEventRecord[]> {
    return (await this.events.list(scope, filter, { first: limit, after: eventCursor(afterPosition) })).nodes;
  }

  /** The highest stored position ('0' when empty). */
  async headPosition(): Promise<string> {
    const rows: { p: string }[] = await this.dataSource.query(`SELECT coalesce(max(position), 0)::text AS p FROM call_events`);
    return rows[0].p;
  }

  /** Events after `position`, in position order. */
  async eventsAfter(position: string, limit: number): Promise<CallEventRecord[]> {
    return this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM call_events e WHERE e.position > $1::bigint ORDER BY e.position LIMIT $2`,
      [position, limit],
    );
  }

  /** The current state of calls, with participants: two statements for any number of calls. */
  async callsWithParticipants(keys: readonly CallKey[]): Promise<LiveCallRecord[]> {
    const calls = (await this.calls.findByKeys(ALL_APPS, keys)).filter((c): c is CallRecord => c !== null);
    const participants = await this.participants.byCallRefs(ALL_APPS, calls.map((c) => c.ref));
    return calls.map((c, i) => ({ ...c, participants: participants[i] }));
  }
}
