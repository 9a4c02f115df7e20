/**
 * Draws the fan-out comparison as an SVG (no dependency: a few lines and
 * labels): CPU seconds per listener-minute and late parts against the
 * number of listeners, one line per system.
 */
/** The keys every system of `npm run bench:fanout` reports for one run (the issue's JSON). */
export type FanoutRun = {
  system: string;
  listeners: number;
  cpu_s_per_listener_min: number;
  late_parts_pct: number;
  latency_ms: { p50: number; p99: number };
  origin_requests_per_s: number;
  edge_requests_per_s: number;
  rss_mb: number;
};

export type ChartRun = Pick<FanoutRun, 'system' | 'listeners' | 'cpu_s_per_listener_min' | 'late_parts_pct'>;

const COLORS: Record<string, string> = { 'tribune-edge': '#7c5cff', icecast: '#e5484d', 'nginx-static': '#2f9e44' };
const W = 900;
const H = 360;
const PAD = { left: 70, right: 20, top: 40, bottom: 50 };

function panel(runs: ChartRun[], x0: number, width: number, title: string, value: (r: ChartRun) => number, unit: string): string {
  const systems = [...new Set(runs.map((r) => r.system))];
  const xs = [...new Set(runs.map((r) => r.listeners))].sort((a, b) => a - b);
  const maxX = Math.max(...xs, 1);
  const maxY = Math.max(...runs.map(value), 1e-9) * 1.15;
  const px = (n: number) => x0 + PAD.left + (n / maxX) * (width - PAD.left - PAD.right);
  const py = (v: number) => H - PAD.bottom - (v / maxY) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [];
  parts.push(`<text x="${x0 + width / 2}" y="22" text-anchor="middle" font-weight="bold">${title}</text>`);
  parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(maxX)}" y2="${py(0)}" stroke="#888"/>`);
  parts.push(`<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${PAD.top}" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY / 4) * i;
    parts.push(`<text x="${px(0) - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${v < 1 ? v.toPrecision(2) : v.toFixed(1)}</text>`);
  }
  for (const n of xs) parts.push(`<text x="${px(n)}" y="${H - PAD.bottom + 16}" text-anchor="middle" font-size="11">${n.toLocaleString('en')}</text>`);
  parts.push(`<text x="${x0 + width / 2}" y="${H - 10}" text-anchor="middle" font-size="12">listeners</text>`);
  parts.push(`<text x="${x0 + 14}" y="${H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${H / 2})">${unit}</text>`);
  for (const system of systems) {
    const points = runs.filter((r) => r.system === system).sort((a, b) => a.listeners - b.listeners);
    const color = COLORS[system] ?? '#333';
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((r) => `${px(r.listeners)},${py(value(r))}`).join(' ')}"/>`);
    for (const r of points) parts.push(`<circle cx="${px(r.listeners)}" cy="${py(value(r))}" r="3.5" fill="${color}"/>`);
  }
  return parts.join('\n');
}

export function fanoutChartSvg(runs: ChartRun[], caption: string): string {
  const systems = [...new Set(runs.map((r) => r.system))];
  const legend = systems
    .map((s, i) => `<rect x="${20 + i * 170}" y="${H + 8}" width="12" height="12" fill="${COLORS[s] ?? '#333'}"/><text x="${38 + i * 170}" y="${H + 19}" font-size="12">${s}</text>`)
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2}" height="${H + 50}" font-family="sans-serif" viewBox="0 0 ${W * 2} ${H + 50}">
<rect width="100%" height="100%" fill="white"/>
${panel(runs, 0, W, 'Server CPU per listener', (r) => r.cpu_s_per_listener_min, 'CPU s per listener-minute')}
${panel(runs, W, W, 'Late parts', (r) => r.late_parts_pct, '% of parts late')}
${legend}
<text x="${W * 2 - 20}" y="${H + 19}" text-anchor="end" font-size="11" fill="#555">${caption}</text>
</svg>
`;
}
