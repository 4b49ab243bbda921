/** Identifies a call across apps: TRTC's CallId is unique only within one SDKAppID. */
export interface CallKey {
  readonly sdkAppId: string;
  readonly callId: string;
}

/** The text form of a call key, for maps and DataLoader caches. */
export const callKeyText = (k: CallKey): string => `${k.sdkAppId}\n${k.callId}`;

/**
 * Groups rows under their call, keeping the order of `keys` (an empty list for a call with no rows)
 * and the order of rows within each call.
 */
export function groupByCall<Row extends CallKey>(keys: readonly CallKey[], rows: readonly Row[]): Row[][] {
  const byKey = new Map<string, Row[]>(keys.map((k) => [callKeyText(k), []]));
  for (const row of rows) byKey.get(callKeyText(row))?.push(row);
  return keys.map((k) => byKey.get(callKeyText(k)) ?? []);
}
