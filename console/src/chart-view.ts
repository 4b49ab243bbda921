import type { HourPoint } from './chart';
import { svg } from './dom';

const W = 480;
const H = 220;
const M = { left: 28, right: 40, top: 12, bottom: 24 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const SLOT = PLOT_W / 24;

/** A round top for the calls axis: 1, 2, 5, 10, 20, 50, … */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  return ([1, 2, 5, 10].find((f) => f * power >= n) ?? 10) * power;
}

function label(x: number, y: number, text: string, anchor = 'middle'): SVGTextElement {
  return svg('text', { x, y, 'text-anchor': anchor, class: 'axis' }, text);
}

/** Bars of calls per hour (left axis) and the answer rate (right axis, 0–100 %) as a line with dots. */
export function renderChart(target: SVGSVGElement, points: readonly HourPoint[]): void {
  const top = niceMax(Math.max(...points.map((p) => p.calls)));
  const y = (calls: number) => M.top + PLOT_H - (calls / top) * PLOT_H;
  const yRate = (rate: number) => M.top + PLOT_H - rate * PLOT_H;
  const cx = (hour: number) => M.left + SLOT * hour + SLOT / 2;
  const nodes: SVGElement[] = [
    svg('line', { x1: M.left, x2: W - M.right, y1: M.top + PLOT_H, y2: M.top + PLOT_H, class: 'baseline' }),
    label(M.left - 6, M.top + 4, String(top), 'end'),
    label(M.left - 6, M.top + PLOT_H, '0', 'end'),
    label(W - M.right + 6, M.top + 4, '100%', 'start'),
    label(W - M.right + 6, M.top + PLOT_H / 2 + 4, '50%', 'start'),
    label(W - M.right + 6, M.top + PLOT_H, '0%', 'start'),
  ];
  for (const p of points) {
    if (p.hour % 3 === 0) nodes.push(label(cx(p.hour), H - 8, `${String(p.hour).padStart(2, '0')}:00`));
    if (p.calls === 0) continue;
    const rate = p.answerRate === null ? '' : `, ${Math.round(p.answerRate * 100)}% answered`;
    const title = svg('title', {}, `${String(p.hour).padStart(2, '0')}:00: ${p.calls} ${p.calls === 1 ? 'call' : 'calls'}${rate}`);
    const attrs = { x: cx(p.hour) - SLOT * 0.3, y: y(p.calls), width: SLOT * 0.6, height: M.top + PLOT_H - y(p.calls), class: 'bar', 'data-hour': p.hour, 'data-calls': p.calls };
    nodes.push(svg('rect', attrs, title));
  }
  const rated = points.filter((p) => p.answerRate !== null);
  if (rated.length > 1) nodes.push(svg('polyline', { points: rated.map((p) => `${cx(p.hour)},${yRate(p.answerRate!)}`).join(' '), class: 'rate-line' }));
  for (const p of rated) nodes.push(svg('circle', { cx: cx(p.hour), cy: yRate(p.answerRate!), r: 3.5, class: 'rate-dot' }));
  target.setAttribute('viewBox', `0 0 ${W} ${H}`);
  target.replaceChildren(...nodes);
}
