/** Every pipeline, live: the runtime's counters and the last minutes of them. */
import { formatDuration, formatNumber, type Overview, type PipelineOverview } from './api';
import { Chart } from './chart';

function lagText(p: { lagMs: number | null; lagRecords: number | null }): string {
  if (p.lagMs !== null) return formatDuration(p.lagMs);
  if (p.lagRecords !== null) return `${formatNumber(p.lagRecords)} rec`;
  return '–';
}

function Stat(props: { label: string; value: string; id: string; warn?: boolean; title?: string }) {
  return (
    <div class={props.warn ? 'stat warn' : 'stat'} title={props.title}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value" data-testid={props.id}>{props.value}</div>
    </div>
  );
}

function series(p: PipelineOverview, pick: (h: PipelineOverview['history'][number]) => number | null): (number | null)[][] {
  return [p.history.map((h) => h.t / 1000), p.history.map(pick)];
}

function PipelineCard({ p }: { p: PipelineOverview }) {
  const c = p.counts;
  const id = (k: string) => `${p.name}-${k}`;
  const lagIsMs = p.sourceKind === 'kinesis';
  return (
    <section class="card" data-testid={`pipeline-${p.name}`}>
      <header class="card-head">
        <h2><a href={`#/pipeline/${encodeURIComponent(p.name)}`}>{p.name}</a></h2>
        <span class="muted">{p.source} · {p.partitions.length} {p.sourceKind === 'kinesis' ? 'shards' : 'partitions'}</span>
        <span class="muted desc">{p.description}</span>
      </header>
      <div class="stats">
        <Stat label="events/s in" value={formatNumber(p.eventsPerSec, 1)} id={id('events-per-sec')} />
        <Stat label="events in" value={formatNumber(p.eventsIn)} id={id('events-in')} title="records read from the source" />
        <Stat label={lagIsMs ? 'iterator age' : 'offset lag'} value={lagText(p)} id={id('lag')} />
        <Stat label="received" value={formatNumber(c.received)} id={id('received')} title="records the handler got" />
        <Stat label="raw rows" value={formatNumber(c.raw)} id={id('raw')} />
        <Stat label="filtered" value={formatNumber(c.filtered)} id={id('filtered')} />
        <Stat label="quarantined" value={formatNumber(c.quarantined)} id={id('quarantined')} warn={c.quarantined > 0} />
        <Stat label="late" value={formatNumber(c.late)} id={id('late')} warn={c.late > 0} />
        <Stat label="objects written" value={formatNumber(c.objects)} id={id('objects')} />
        <Stat label="batches" value={formatNumber(c.batches)} id={id('batches')} />
        <Stat label="errors" value={formatNumber(p.failures)} id={id('errors')} warn={p.failures > 0} title="failed invocations" />
        <Stat label="retries" value={formatNumber(p.retries)} id={id('retries')} warn={p.retries > 0} />
        <Stat label="discarded" value={formatNumber(p.discarded)} id={id('discarded')} warn={p.discarded > 0} title="records sent to the on-failure destination" />
      </div>
      <div class="sparks">
        <div><div class="spark-label">events/s in, last {Math.max(1, Math.round((p.history.length ? p.history.at(-1)!.t - p.history[0]!.t : 0) / 60_000))} min</div>
          <Chart spark data={series(p, (h) => h.eventsPerSec)} series={[{ label: 'events/s' }]} time testId={id('chart-rate')} /></div>
        <div><div class="spark-label">{lagIsMs ? 'iterator age (ms)' : 'offset lag (records)'}</div>
          <Chart spark data={series(p, (h) => (lagIsMs ? h.lagMs : h.lagRecords))} series={[{ label: 'lag', color: '#d97706' }]} time /></div>
        <div><div class="spark-label">quarantined + late (total)</div>
          <Chart spark data={series(p, (h) => h.quarantined + h.late)} series={[{ label: 'bad', color: '#dc2626' }]} time /></div>
        <div><div class="spark-label">errors + retries (total)</div>
          <Chart spark data={series(p, (h) => h.failures + h.retries)} series={[{ label: 'errors', color: '#7c3aed' }]} time /></div>
      </div>
      <table class="grid compact">
        <thead><tr><th>{p.sourceKind === 'kinesis' ? 'shard' : 'partition'}</th><th>lag</th><th class="num">events in</th><th class="num">filtered (criteria)</th><th class="num">batches</th><th class="num">errors</th><th class="num">retries</th><th class="num">discarded</th><th>checkpoint</th><th>last error</th></tr></thead>
        <tbody>
          {p.partitions.map((x) => (
            <tr key={x.id}>
              <td class="mono">{x.id}</td>
              <td>{lagText({ lagMs: x.millisBehindLatest, lagRecords: x.recordsBehindLatest })}</td>
              <td class="num">{formatNumber(x.eventsIn)}</td>
              <td class="num">{formatNumber(x.eventsFiltered)}</td>
              <td class="num">{formatNumber(x.batches)}</td>
              <td class="num">{formatNumber(x.failures)}</td>
              <td class="num">{formatNumber(x.retries)}</td>
              <td class="num">{formatNumber(x.discarded)}</td>
              <td class="mono ellipsis" title={x.checkpoint ?? ''}>{x.checkpoint ?? '–'}</td>
              <td class="err ellipsis" title={x.lastError?.message ?? ''}>{x.lastError ? `${x.lastError.at.slice(11, 19)} ${x.lastError.message}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function OverviewPage({ overview }: { overview: Overview | null }) {
  if (!overview) return <p class="muted">loading …</p>;
  return (
    <div data-testid="overview">
      {overview.pipelines.map((p) => <PipelineCard key={p.name} p={p} />)}
    </div>
  );
}
