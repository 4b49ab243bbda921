import { z } from 'zod';
import type { RecordsApiGeneration, TrtcAppConfig, TrtcRegion } from '../trtc-apps.config';

/**
 * The request and reply shapes of Tencent's "retrieve records by conditions" APIs, both generations
 * (docs/trtc-callbacks.md, section 7). Built from Tencent's documentation; never run against Tencent.
 */

/** The path of the filter API of each generation. */
export const FILTER_PATHS: Readonly<Record<RecordsApiGeneration, string>> = {
  v1: 'v1/records/get_records_by_filter',
  v4: 'v4/call_record_http_srv/get_record_by_filter',
};

/** Tencent's host of each region: v4 is Chat's REST hosts, v1 the CallKit hosts (China, and the rest of the world). */
const HOSTS: Readonly<Record<RecordsApiGeneration, Readonly<Record<TrtcRegion, string>>>> = {
  v4: {
    singapore: 'adminapisgp.im.qcloud.com',
    china: 'console.tim.qq.com',
    seoul: 'adminapikr.im.qcloud.com',
    frankfurt: 'adminapiger.im.qcloud.com',
    'silicon-valley': 'adminapiusa.im.qcloud.com',
    jakarta: 'adminapiidn.im.qcloud.com',
  },
  v1: {
    singapore: 'callkit-intl.trtc.tencent-cloud.com',
    china: 'callkit.trtc.tencent-cloud.com',
    seoul: 'callkit-intl.trtc.tencent-cloud.com',
    frankfurt: 'callkit-intl.trtc.tencent-cloud.com',
    'silicon-valley': 'callkit-intl.trtc.tencent-cloud.com',
    jakarta: 'callkit-intl.trtc.tencent-cloud.com',
  },
};

/**
 * Records asked for per page. Tencent documents defaults (v1 100, v4 10) but no maximum; 100 is
 * v1's own default, assumed to be accepted by both.
 */
export const PAGE_SIZE = 100;

/** The base URL of an app's API: `TRTC_API_BASE` when set, else `https://` and the app's host or its region's. */
export const apiBase = (app: TrtcAppConfig, override: string | null): string =>
  override ?? `https://${app.host ?? HOSTS[app.generation][app.region]}`;

/** A window of call start times, Unix seconds, both ends included. */
export interface RecordWindow {
  readonly since: number;
  readonly until: number;
}

/** The JSON body asking for one page: v1 names are camelCase, v4 PascalCase. */
export function filterBody(generation: RecordsApiGeneration, window: RecordWindow, page: number): Record<string, number> {
  return generation === 'v1'
    ? { startTimestamp: window.since, endTimestamp: window.until, numberPerPage: PAGE_SIZE, page }
    : { StartTime: window.since, EndTime: window.until, NumberPerPage: PAGE_SIZE, Page: page };
}

const code = z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/).transform(Number)]);
const count = z.union([z.number().int().min(0), z.string().trim().regex(/^\d+$/).transform(Number)]);
const text = z.union([z.string(), z.number().transform(String)]).optional();

/** v4: `{ActionStatus, ErrorCode, ErrorInfo, RequestId, Response: {TotalNum, Page, CallRecordList}}`. */
const v4Reply = z.looseObject({
  ErrorCode: code,
  ErrorInfo: text,
  RequestId: text,
  Response: z.looseObject({ TotalNum: count.optional(), Page: count.optional(), CallRecordList: z.array(z.unknown()).optional() }).optional(),
});
/** v1: `{errorCode, errorMessage, requestId, data: {totalNum, page, callRecordList}}`; the v4 casing of the envelope is read too. */
const v1Reply = z.looseObject({
  errorCode: code.optional(),
  ErrorCode: code.optional(),
  errorMessage: text,
  ErrorInfo: text,
  requestId: text,
  data: z.looseObject({ totalNum: count.optional(), page: count.optional(), callRecordList: z.array(z.unknown()).optional() }).nullish(),
});

/** One reply, read the same way for both generations. */
export interface FilterReply {
  /** 0 for success. */
  readonly errorCode: number;
  readonly errorInfo: string;
  readonly requestId: string | null;
  /** Records matching the whole query (every page); `null` when the reply does not say. */
  readonly totalNum: number | null;
  /** The page returned; v4 documents 0 when there is no data. */
  readonly page: number;
  /** The page's records, as sent. */
  readonly records: readonly unknown[];
}

/** Reads a reply; `null` when it is not the documented shape. */
export function readFilterReply(generation: RecordsApiGeneration, json: unknown): FilterReply | null {
  if (generation === 'v4') {
    const r = v4Reply.safeParse(json);
    if (!r.success) return null;
    const list = r.data.Response?.CallRecordList ?? [];
    return { errorCode: r.data.ErrorCode, errorInfo: r.data.ErrorInfo ?? '', requestId: r.data.RequestId ?? null, totalNum: r.data.Response?.TotalNum ?? null, page: r.data.Response?.Page ?? 0, records: list };
  }
  const r = v1Reply.safeParse(json);
  const errorCode = r.success ? (r.data.errorCode ?? r.data.ErrorCode) : undefined;
  if (!r.success || errorCode === undefined) return null;
  const list = r.data.data?.callRecordList ?? [];
  return {
    errorCode,
    errorInfo: r.data.errorMessage ?? r.data.ErrorInfo ?? '',
    requestId: r.data.requestId ?? null,
    totalNum: r.data.data?.totalNum ?? null,
    page: r.data.data?.page ?? 0,
    records: list,
  };
}
