/** uPlot in a Preact component: made once per shape of series, fed new data in place, sized to its box. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export const PALETTE = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#ea580c'];

export interface ChartSeries {
  label: string;
  color?: string;
}

export interface ChartProps {
  /** x values first, then one array per series (nulls for gaps). */
  data: (number | null)[][];
  series: ChartSeries[];
  kind?: 'line' | 'bar';
  height?: number;
  /** x is epoch seconds (time axis) or plain numbers / category indexes. */
  time?: boolean;
  /** Labels for a category x axis (x = 0, 1, 2 …). */
  categories?: string[];
  /** Fixed x range (otherwise the data's, which is a single point for one window). */
  xRange?: [number, number];
  /** Shade the x range from this value to the right edge (e.g. windows still open). */
  shadeFrom?: number | null;
  /** Small chart: no axes or legend. */
  spark?: boolean;
  yLabel?: string;
  testId?: string;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shade = useRef<number | null>(null);
  shade.current = props.shadeFrom ?? null;
  const xRange = useRef(props.xRange);
  xRange.current = props.xRange;
  const shape = `${props.kind ?? 'line'}|${props.spark ? 1 : 0}|${props.time ? 1 : 0}|${props.yLabel ?? ''}|${props.series.map((s) => s.label).join('\u0000')}|${(props.categories ?? []).join('\u0000')}`;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = props.kind === 'bar' ? uPlot.paths.bars!({ size: [0.6, 80], align: 0 }) : undefined;
    const cats = props.categories;
    const xScale: uPlot.Scale = cats
      ? { time: false, range: () => [-0.5, cats.length - 0.5] }
      : { time: !!props.time };
    const opts: uPlot.Options = {
      width: Math.max(120, el.clientWidth),
      height: props.height ?? (props.spark ? 48 : 260),
      legend: { show: !props.spark },
      // Times in UTC, as the tables and Athena print them.
      tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      cursor: props.spark ? { show: false } : {},
      scales: {
        x: xScale,
        // Bars grow from zero; lines fit their data.
        y: props.kind === 'bar' ? { range: (_u, min, max) => uPlot.rangeNum(Math.min(0, min), Math.max(0, max), 0.1, true) } : {},
      },
      axes: props.spark
        ? [{ show: false }, { show: false }]
        : [
            cats ? { splits: () => cats.map((_c, i) => i), values: (_u, vals) => vals.map((v) => cats[v] ?? ''), gap: 4 } : {},
            { label: props.yLabel ?? '', size: 60 },
          ],
      series: [
        cats ? { label: 'x', value: (_u, v) => (v === null ? '–' : (cats[v] ?? '')) } : { label: props.time ? 'time' : 'x' },
        ...props.series.map((s, i) => {
          const color = s.color ?? PALETTE[i % PALETTE.length]!;
          return {
            label: s.label,
            stroke: color,
            fill: props.kind === 'bar' ? `${color}cc` : props.spark ? `${color}22` : undefined,
            width: props.spark ? 1.5 : 2,
            points: { show: !props.spark && props.kind !== 'bar' && props.data[0]!.length < 60, size: 8 },
            spanGaps: false,
            ...(bars ? { paths: bars } : {}),
          };
        }),
      ],
      hooks: {
        drawClear: [
          (u: uPlot) => {
            const from = shade.current;
            if (from === null) return;
            const x0 = Math.max(u.bbox.left, u.valToPos(from, 'x', true));
            const ctx = u.ctx;
            ctx.save();
            ctx.fillStyle = 'rgba(250, 204, 21, 0.16)';
            ctx.fillRect(x0, u.bbox.top, u.bbox.left + u.bbox.width - x0, u.bbox.height);
            ctx.restore();
          },
        ],
      },
    };
    const p = new uPlot(opts, props.data as uPlot.AlignedData, el);
    plot.current = p;
    // uPlot widens the range of a single x value to years; a fixed range is set, not derived.
    if (xRange.current) p.setScale('x', { min: xRange.current[0], max: xRange.current[1] });
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(120, el.clientWidth), height: opts.height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    const p = plot.current;
    if (!p) return;
    p.setData(props.data as uPlot.AlignedData, !props.xRange);
    if (props.xRange) p.setScale('x', { min: props.xRange[0], max: props.xRange[1] });
  }, [props.data, props.shadeFrom, props.xRange?.[0], props.xRange?.[1]]);

  return <div class={props.spark ? 'chart spark' : 'chart'} ref={box} data-testid={props.testId} />;
}
