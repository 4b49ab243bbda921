import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * `TRTC_APPS`: the apps whose call records calltrail may pull from Tencent's records REST API
 * (docs/trtc-callbacks.md, section 7). Parsed by `src/config.ts`; kept apart so the config stays short.
 */

/** Regions of Tencent's records API hosts (docs/trtc-callbacks.md, section 7). */
export const TRTC_REGIONS = ['singapore', 'china', 'seoul', 'frankfurt', 'silicon-valley', 'jakarta'] as const;
export type TrtcRegion = (typeof TRTC_REGIONS)[number];

/** Tencent's generations of the records API: `v1/records/…` (TUICallKit `call()`), `v4/call_record_http_srv/…` (`calls()`). */
export type RecordsApiGeneration = 'v1' | 'v4';

/** One app's access to the records API. The secret key is never logged nor shown in an error. */
export interface TrtcAppConfig {
  /** The SDKAppID. */
  readonly sdkAppId: string;
  /** The app's secret key (TRTC console, application's basic information): signs the UserSig. */
  readonly secretKey: string;
  /** An App administrator account of the app (default `administrator`, the one Tencent creates). */
  readonly identifier: string;
  /** Which records API the app's calls are in (default `v4`). */
  readonly generation: RecordsApiGeneration;
  /** Where the app lives (default `singapore`); picks Tencent's host unless `host` is given. */
  readonly region: TrtcRegion;
  /** An explicit API host (e.g. `adminapisgp.im.qcloud.com`), instead of the region's. */
  readonly host: string | null;
  /** Requests per second calltrail sends for this app (default 20, at most 200, Tencent's limit). */
  readonly requestsPerSecond: number;
}

const app = z.strictObject({
  secretKey: z.string().trim().min(1),
  identifier: z.string().trim().min(1).max(32).default('administrator'),
  generation: z.enum(['v1', 'v4']).default('v4'),
  region: z.enum(TRTC_REGIONS).default('singapore'),
  host: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d+)?$/i)
    .optional(),
  requestsPerSecond: z.number().int().min(1).max(200).default(20),
});
const apps = z.record(z.string().regex(/^\d{1,20}$/), app);

/** What each field must be, in words; values are never shown (a key's neighbours may be secrets too). */
const EXPECTED: Record<string, string> = {
  secretKey: "a non-empty string: the app's secret key",
  identifier: 'an App administrator account of at most 32 characters',
  generation: '"v1" or "v4"',
  region: `one of ${TRTC_REGIONS.join(', ')}`,
  host: 'a host name such as "adminapisgp.im.qcloud.com"',
  requestsPerSecond: 'an integer from 1 to 200',
};
const SHAPE = 'a JSON object of apps by SDKAppID, e.g. {"1400000001": {"secretKey": "…", "identifier": "administrator"}}';

/** The JSON text: the value itself when it starts with `{`, else the file it names. */
function readText(value: string): { text: string } | { problem: string } {
  if (value.trim().startsWith('{')) return { text: value };
  try {
    return { text: readFileSync(value.trim(), 'utf8') };
  } catch (err) {
    return { problem: `TRTC_APPS: expected ${SHAPE} or the path of a JSON file holding it, got a path that cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

function describe(issue: z.core.$ZodIssue): string {
  const [sdkAppId, field] = issue.path.map(String);
  if (issue.path.length === 0) return `TRTC_APPS: expected ${SHAPE}`;
  if (issue.code === 'invalid_key') return `TRTC_APPS: expected numeric SDKAppIDs as keys, got ${JSON.stringify(sdkAppId)}`;
  if (issue.code === 'unrecognized_keys') return `TRTC_APPS["${sdkAppId}"]: expected only secretKey, identifier, generation, region, host and requestsPerSecond, got ${issue.keys.join(', ')}`;
  if (field === undefined) return `TRTC_APPS["${sdkAppId}"]: expected an object {"secretKey", "identifier", "generation", "region", "host", "requestsPerSecond"}`;
  return `TRTC_APPS["${sdkAppId}"].${field}: expected ${EXPECTED[field] ?? issue.message}`;
}

/**
 * Parses `TRTC_APPS` (JSON, or the path of a JSON file). Returns the apps, or the problems found;
 * messages name the app and the field, never a value.
 */
export function parseTrtcApps(value: string | null): { apps: readonly TrtcAppConfig[] } | { problems: string[] } {
  if (value === null) return { apps: [] };
  const read = readText(value);
  if ('problem' in read) return { problems: [read.problem] };
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch (err) {
    // The parser's message may quote the text, secret key included: only the position is kept.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    return { problems: [`TRTC_APPS: expected ${SHAPE}, got invalid JSON${at === undefined ? '' : ` (at position ${at})`}`] };
  }
  const parsed = apps.safeParse(json);
  if (!parsed.success) return { problems: [...new Set(parsed.error.issues.map(describe))] };
  const list = Object.entries(parsed.data).map(([sdkAppId, a]) => Object.freeze({ sdkAppId, ...a, host: a.host ?? null }));
  return { apps: Object.freeze(list) };
}
