import { SIM_RESULTS } from './call-model';
import { sendTraffic, type SendOptions } from './sender';
import { planTraffic, summarizeCalls, type CallSummary, type TrafficOptions } from './traffic';

/** What a run made and what calltrail answered. */
export interface SimulationReport {
  readonly summary: CallSummary;
  /** Distinct callbacks planned. */
  readonly callbacks: number;
  /** Distinct callbacks answered 200. */
  readonly answered: number;
  /** POSTs: deliveries (duplicates included), and every try with retries. */
  readonly deliveries: number;
  readonly duplicates: number;
  readonly requests: number;
  readonly retries: number;
  /** Deliveries never answered 200, by their last answer. */
  readonly failures: Readonly<Record<string, number>>;
  readonly elapsedSeconds: number;
}

/** Plans the traffic, sends it, and reports. */
export async function runSimulation(traffic: TrafficOptions, send: SendOptions): Promise<SimulationReport> {
  const plan = planTraffic(traffic);
  const stats = await sendTraffic(plan, send);
  return {
    summary: summarizeCalls(plan.calls),
    callbacks: plan.callbacks,
    answered: stats.answered.size,
    deliveries: stats.deliveries,
    duplicates: plan.deliveries.filter((d) => d.duplicate).length,
    requests: stats.requests,
    retries: stats.retries,
    failures: Object.fromEntries(stats.failures),
    elapsedSeconds: stats.elapsedMs / 1000,
  };
}

/** The report for a person: the calls by result (as calltrail's `callStats(groupBy: [RESULT])` will count them) and the callbacks. */
export function formatReport(r: SimulationReport): string {
  const s = r.summary;
  const lines = [
    `calls: ${s.calls} (${s.byType.single} one-to-one, ${s.byType.group} group; ${s.byGeneration.v1} v1, ${s.byGeneration.v4} v4), ${s.answered} answered`,
    `  by result: ${SIM_RESULTS.map((res) => `${res} ${s.byResult[res]}`).join(', ')}`,
    `callbacks: ${r.callbacks} sent, ${r.answered} answered 200, ${r.callbacks - r.answered} never answered`,
    `  ${r.deliveries} deliveries (${r.duplicates} duplicates), ${r.requests} requests (${r.retries} retries) in ${r.elapsedSeconds.toFixed(1)} s`,
  ];
  const failures = Object.entries(r.failures);
  if (failures.length > 0) lines.push(`  not answered 200 after every retry: ${failures.map(([why, n]) => `${why} x${n}`).join(', ')}`);
  if (r.answered === r.callbacks) {
    lines.push('check: { callStats(groupBy: [RESULT]) { result calls answered } } shows these counts (on a database with no other calls)');
  } else {
    lines.push('warning: some callbacks were never answered 200, so calltrail may count some calls differently');
  }
  return lines.join('\n');
}
