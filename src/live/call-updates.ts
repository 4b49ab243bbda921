import type { LiveCallRecord } from '../calls/live.repository';
import { callKeyText } from '../domain/call-key';
import type { CallFilter } from '../domain/filters';
import { callMatches } from '../domain/live-filter';
import type { GroupMatching, LiveGroups } from './live-groups';

/** `callUpdated` groups are pinned by the user (any participant) or the call their filter names. */
export const CALL_MATCHING: GroupMatching<LiveCallRecord, CallFilter> = {
  pin: (f) => ({ user: f?.userId, call: f?.callId }),
  users: (c) => c.participants.map((p) => p.userId),
  call: (c) => c.callId,
  matches: callMatches,
};

/**
 * The dispatch of changed calls, in steps for the fan-out scheduler: each call's new state to every
 * group it matches, and to the members of the groups it no longer matches that were sent it while it
 * did (a board filtered on `[RINGING, ONGOING]` sees the call end), never to a member that joined
 * after. Participants are never removed from a call, so such a group is always among the candidates.
 * `tick` is the hub's clock, which also stamps when each member joined.
 */
export function* callUpdateSteps(calls: readonly LiveCallRecord[], groups: LiveGroups<LiveCallRecord, unknown, CallFilter>, tick: () => number): Generator<void> {
  for (const c of calls) {
    const key = callKeyText(c);
    const now = tick();
    for (const group of [...groups.candidates(c)]) {
      if (callMatches(c, group.filter, group.scope)) {
        group.deliver(c, c.lastPosition);
        if (c.status === 'ENDED') group.following.delete(key);
        else group.following.set(key, now);
      } else {
        const since = group.following.get(key);
        if (since === undefined) continue;
        group.following.delete(key);
        const followers = [...group.members].filter((m) => m.joinedAt < since);
        if (followers.length > 0) group.deliver(c, c.lastPosition, followers);
      }
      yield;
    }
    yield;
  }
}
