import { AppError } from './app-error';
import { scopeAllows, type AppScope } from './app-scope';
import type { CallEventFilter, CallFilter, TimeRange } from './filters';
import type { CallEventType, CallResult, CallStatus, CallType, MediaType, Role } from './vocabulary';

/** The fields of an event a subscription filter looks at. */
export interface MatchableEvent {
  readonly sdkAppId: string;
  readonly callId: string;
  readonly userId: string | null;
  readonly role: Role | null;
  readonly type: CallEventType;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly eventTime: Date;
}

/** The fields of a call (with its participants) a subscription filter looks at. */
export interface MatchableCall {
  readonly sdkAppId: string;
  readonly callId: string;
  readonly roomId: string | null;
  readonly callType: CallType | null;
  readonly mediaType: MediaType | null;
  readonly status: CallStatus;
  readonly result: CallResult | null;
  readonly startedAt: Date | null;
  readonly participants: readonly { readonly userId: string; readonly role: Role }[];
}

const inRange = (t: Date | null, range: TimeRange | null | undefined): boolean =>
  !range || (t !== null && (!range.from || t >= range.from) && (!range.to || t < range.to));
/** An absent or empty constraint matches everything, as in the SQL twins. */
const same = <T>(want: T | null | undefined, got: T | null): boolean => want === null || want === undefined || want === '' || want === got;
const oneOf = <T>(want: readonly T[] | null | undefined, got: T | null): boolean => !want?.length || (got !== null && want.includes(got));

/** The in-memory twin of the SQL in CallEventRepository: same filter, same meaning. */
export function eventMatches(e: MatchableEvent, filter: CallEventFilter | null | undefined, scope: AppScope): boolean {
  const f = filter ?? {};
  return (
    scopeAllows(scope, e.sdkAppId) &&
    same(f.sdkAppId, e.sdkAppId) &&
    same(f.callId, e.callId) &&
    same(f.userId, e.userId) &&
    same(f.role, e.role) &&
    same(f.mediaType, e.mediaType) &&
    same(f.callType, e.callType) &&
    oneOf(f.events, e.type) &&
    inRange(e.eventTime, f.eventTime)
  );
}

/** The in-memory twin of the SQL in CallRepository (userId with role: that user in that role). */
export function callMatches(c: MatchableCall, filter: CallFilter | null | undefined, scope: AppScope): boolean {
  const f = filter ?? {};
  return (
    scopeAllows(scope, c.sdkAppId) &&
    same(f.sdkAppId, c.sdkAppId) &&
    same(f.callId, c.callId) &&
    same(f.roomId, c.roomId) &&
    same(f.mediaType, c.mediaType) &&
    same(f.callType, c.callType) &&
    oneOf(f.status, c.status) &&
    oneOf(f.result, c.result) &&
    inRange(c.startedAt, f.startedAt) &&
    (!f.userId || c.participants.some((p) => p.userId === f.userId && same(f.role, p.role)))
  );
}

/** `role` narrows `userId` (calls in which that user had that role); alone it means nothing. */
export function checkCallFilter(filter: CallFilter | null | undefined): void {
  if (filter?.role && !filter.userId) {
    throw new AppError('BAD_USER_INPUT', 'filter.role: expected together with filter.userId (calls in which that user had that role), got role alone', 'filter.role');
  }
}
