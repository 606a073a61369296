// Open ports and hosts up per run, drawn by uPlot (lazy-loaded: only the Runs tab pays for it).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { RunRow } from '../pages/types';

export default function TrendChart({ runs }: { runs: RunRow[] }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const xs = runs.map((r) => Date.parse(r.started_at ?? r.created_at ?? '') / 1000);
    const data: uPlot.AlignedData = [xs, runs.map((r) => r.open_ports), runs.map((r) => r.hosts_up)];
    const dark = window.matchMedia('(prefers-color-scheme: dark)').matches;
    const axis = { stroke: dark ? '#ccc' : '#333', grid: { stroke: dark ? '#444' : '#ddd' } };
    const plot = new uPlot(
      {
        width: Math.min(el.clientWidth || 600, 900),
        height: 220,
        series: [
          {},
          { label: 'Open ports', stroke: '#1f6feb', width: 2, points: { show: true } },
          { label: 'Hosts up', stroke: '#bf5700', width: 2, dash: [6, 4], points: { show: true } },
        ],
        axes: [axis, axis],
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [runs]);
  const last = runs[runs.length - 1];
  return (
    <figure className="chart">
      <div ref={ref} role="img" aria-label="Open ports per run" aria-describedby="trend-desc" />
      <figcaption id="trend-desc">
        Open ports (solid) and hosts up (dashed) over the last {runs.length} runs
        {last ? `; latest: ${last.open_ports} open ports, ${last.hosts_up} hosts up` : ''}.
      </figcaption>
    </figure>
  );
}
