/**
 * A time-series chart over uPlot: `points` are the stream's points ({t, ...}); each series reads its
 * value from a point. The chart is made once per set of series and given new data at each point.
 */
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';
import { html } from './html.js';

const HEIGHT = 200;
/** The shortest time the x axis spans, in seconds. */
const WINDOW_S = 60;

/** series: [{ label, colour, value: (point) => number | null }]; unit: the y axis' label. */
export function Chart({ title, series, points, unit, testid }) {
  const box = useRef(null);
  const plot = useRef(undefined);
  const key = series.map((s) => s.label).join(',');
  const data = () => [points.map((p) => p.t / 1000), ...series.map((s) => points.map((p) => s.value(p)))];

  useEffect(() => {
    const options = {
      width: Math.max(300, box.current.clientWidth),
      height: HEIGHT,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // At least the last minute, so that the first points do not stretch over years.
        x: { time: true, range: (_u, min, max) => [Math.min(min, max - WINDOW_S), max] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [{}, { label: unit, size: 60 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 1.5, spanGaps: false }))],
    };
    const element = box.current;
    plot.current = new uPlot(options, data(), element);
    const resized = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(300, element.clientWidth), height: HEIGHT }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      plot.current.destroy();
      plot.current = undefined;
    };
  }, [key]);

  useEffect(() => {
    plot.current?.setData(data());
  }, [points, key]);

  return html`<section class="chart" data-testid=${testid}>
    <h3>${title}</h3>
    <div ref=${box}></div>
  </section>`;
}
