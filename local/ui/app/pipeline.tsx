/** One pipeline: its aggregate windows, late and quarantined records, failed batches and scheduled queries. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, formatBytes, formatDuration, formatNumber, waitForQuery, type PipelineDefinition, type PipelineOverview, type QueryState, type WindowRows } from './api';
import { Chart } from './chart';
import { Pager, ResultTable, usePages } from './results';

type Tab = 'windows' | 'late' | 'quarantine' | 'failed' | 'scheduled';
const TABS: { id: Tab; label: string }[] = [
  { id: 'windows', label: 'Windows' },
  { id: 'late', label: 'Late records' },
  { id: 'quarantine', label: 'Quarantine' },
  { id: 'failed', label: 'Failed batches' },
  { id: 'scheduled', label: 'Scheduled queries' },
];

/** Athena's timestamp text, UTC, as epoch seconds for the chart. */
const tsSeconds = (s: string | null): number => (s === null ? NaN : Date.parse(`${s.replace(' ', 'T')}Z`) / 1000);

/** "tumbling 1 min", "hopping 10 min every 2 min", "session gap 30 min". */
function windowLabel(w: PipelineDefinition['aggregates'][number]['window']): string {
  switch (w.kind) {
    case 'tumbling': return `tumbling ${formatDuration(w.sizeMs)}`;
    case 'hopping': return `hopping ${formatDuration(w.sizeMs)} every ${formatDuration(w.everyMs)}`;
    case 'session': return `session gap ${formatDuration(w.gapMs)}`;
  }
}

function WindowsTab({ def, batches }: { def: PipelineDefinition; batches: number }) {
  const [view, setView] = useState(def.aggregates[0]!.view);
  const agg = def.aggregates.find((a) => a.view === view) ?? def.aggregates[0]!;
  const [measure, setMeasure] = useState(agg.measures[0]!.name);
  // Another view has other measures: start on its first.
  const shown = agg.measures.some((m) => m.name === measure) ? measure : agg.measures[0]!.name;
  const [minutes, setMinutes] = useState(30);
  const [data, setData] = useState<WindowRows | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Refetched when a batch has landed (the batch count moved), at most every 2 s: one view query, not one per batch.
  const [seen, setSeen] = useState(batches);
  const latest = useRef(batches);
  latest.current = batches;
  useEffect(() => {
    const t = setInterval(() => setSeen(latest.current), 2_000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    let live = true;
    api<WindowRows>(`pipelines/${encodeURIComponent(def.name)}/windows?view=${encodeURIComponent(agg.view)}&measure=${encodeURIComponent(shown)}&minutes=${minutes}`)
      .then((d) => { if (live) { setData(d); setError(null); } })
      .catch((e: Error) => live && setError(e.message));
    return () => { live = false; };
  }, [def.name, agg.view, shown, minutes, seen]);

  const chart = useMemo(() => {
    if (!data) return null;
    const g = data.groupBy.length;
    const key = (v: (string | null)[]) => v.slice(2, 2 + g).map((x) => x ?? 'NULL').join(' · ') || data.measure;
    const xs = [...new Set(data.rows.map((r) => tsSeconds(r.values[0]!)))].sort((a, b) => a - b);
    const groups = [...new Set(data.rows.map((r) => key(r.values)))].sort();
    const at = new Map(xs.map((x, i) => [x, i]));
    const cols = groups.map(() => xs.map((): number | null => null));
    for (const r of data.rows) {
      const v = r.values[2 + g];
      cols[groups.indexOf(key(r.values))]![at.get(tsSeconds(r.values[0]!))!] = v === null || v === undefined ? null : Number(v);
    }
    const firstOpen = data.rows.find((r) => r.open);
    const now = Date.now() / 1000;
    // Up to the end of the newest window, so an open window is seen whole.
    const end = Math.max(now, ...data.rows.map((r) => tsSeconds(r.values[1]!)));
    return { data: [xs, ...cols], groups, shadeFrom: firstOpen ? tsSeconds(firstOpen.values[0]!) : null, xRange: [now - minutes * 60, end] as [number, number] };
  }, [data, minutes]);

  const open = data?.rows.filter((r) => r.open).length ?? 0;
  return (
    <div>
      <div class="toolbar">
        {def.aggregates.length > 1 && (
          <label>view <select value={agg.view} onChange={(e) => setView((e.target as HTMLSelectElement).value)} data-testid="view">
            {def.aggregates.map((a) => <option key={a.view} value={a.view}>{a.view}</option>)}
          </select></label>
        )}
        <label>measure <select value={shown} onChange={(e) => setMeasure((e.target as HTMLSelectElement).value)} data-testid="measure">
          {agg.measures.map((m) => <option key={m.name} value={m.name}>{m.name} ({m.fn})</option>)}
        </select></label>
        <label>since <select value={minutes} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
          {[15, 30, 60, 180, 720, 1440].map((m) => <option key={m} value={m}>{formatDuration(m * 60_000)} ago</option>)}
        </select></label>
        <span class="muted">view <code>{def.database}.{agg.view}</code> · {windowLabel(agg.window)} · by {agg.groupBy.join(', ') || '(no groups)'} · windows stay open {formatDuration(def.allowedLatenessMs)} past their end</span>
      </div>
      {error && <div class="error" data-testid="windows-error">{error}</div>}
      {data && chart && (
        <>
          <div class="legend-note"><span class="swatch open" /> open windows (events can still arrive on time) · {open} open, {data.rows.length - open} closed rows{data.truncated ? ' · truncated' : ''} · scanned {formatBytes(data.dataScannedBytes)} in {formatDuration(data.engineExecutionMs)}</div>
          {data.rows.length > 0
            ? <Chart data={chart.data} series={chart.groups.map((g) => ({ label: g }))} kind="line" time shadeFrom={chart.shadeFrom} xRange={chart.xRange} yLabel={data.measure} testId="windows-chart" />
            : <p class="muted" data-testid="windows-empty">No windows in this range yet: send events, they appear as batches land.</p>}
          <details><summary>SQL</summary><pre class="sql">{data.sql}</pre></details>
          <div class="table-wrap">
            <table class="grid" data-testid="windows-table">
              <thead><tr>{data.columns.map((c) => <th key={c.name}>{c.name}</th>)}<th>state</th></tr></thead>
              <tbody>
                {[...data.rows].reverse().map((r, i) => (
                  <tr key={i} class={r.open ? 'open' : ''}>
                    {r.values.map((v, j) => <td key={j} class={j >= 2 + data.groupBy.length ? 'num' : ''}>{v ?? 'NULL'}</td>)}
                    <td>{r.open ? <span class="badge open" title={`until ${r.openUntil}`}>open until {r.openUntil.slice(11, 19)}Z</span> : <span class="badge">closed</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}

function decodePayload(b64: string | null): string {
  if (b64 === null) return '';
  try {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } catch {
    return b64;
  }
}

function BrowseTab({ def, table }: { def: PipelineDefinition; table: 'late' | 'quarantine' }) {
  const [q, setQ] = useState<QueryState | null>(null);
  const [sql, setSql] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    let live = true;
    setQ(null);
    api<{ queryExecutionId: string; sql: string }>(`pipelines/${encodeURIComponent(def.name)}/browse`, { table })
      .then(async (s) => { setSql(s.sql); const st = await waitForQuery(s.queryExecutionId); if (live) setQ(st); })
      .catch((e: Error) => live && setError(e.message));
    return () => { live = false; };
  }, [def.name, table, refresh]);
  const size = 50;
  const pages = usePages(q?.state === 'SUCCEEDED' ? q.queryExecutionId : null, size);
  const t = def.tables.find((x) => x.role === table)!;
  return (
    <div data-testid={`browse-${table}`}>
      <div class="toolbar">
        <span class="muted">table <code>{def.database}.{t.name}</code> ({t.format}, s3://…/{t.location})</span>
        <button onClick={() => setRefresh(refresh + 1)}>refresh</button>
      </div>
      {error && <div class="error">{error}</div>}
      {q?.error && <div class="error">{q.reason}</div>}
      {q?.state === 'SUCCEEDED' && <div class="muted small">scanned {formatBytes(q.dataScannedBytes)} in {formatDuration(q.engineExecutionMs)} · <code>{sql}</code></div>}
      {pages.error && <div class="error">{pages.error}</div>}
      {pages.page && (
        <>
          <Pager p={pages} size={size} label={table === 'late' ? 'late records' : 'quarantined records'} />
          <ResultTable
            page={pages.page}
            testId={`${table}-table`}
            render={(col, v) =>
              col === 'payload' ? (
                <details class="payload"><summary class="mono">{decodePayload(v).slice(0, 60) || '(empty)'}</summary><pre>{decodePayload(v)}</pre><div class="muted small">base64: <span class="mono">{v}</span></div></details>
              ) : col === 'reason' ? <span class="reason">{v}</span>
                : col === 'lateness_ms' && v !== null ? <span class="reason" title="arrival − event time">{v} ms · {formatDuration(Number(v))} late, {formatDuration(def.allowedLatenessMs)} allowed</span>
                : v === null ? 'NULL' : v}
          />
        </>
      )}
    </div>
  );
}

/** A <details> whose body (a whole invocation payload can be megabytes) is made only when opened. */
function Lazy({ summary, text }: { summary: string; text: () => string }) {
  const [open, setOpen] = useState(false);
  return (
    <details onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary class="mono small">{summary}</summary>
      {open && <pre>{text()}</pre>}
    </details>
  );
}

interface FailedBatches {
  destination: string;
  total?: number;
  batches: { key: string; size: number; unreadable?: string; record?: Record<string, unknown>; payload?: string | null }[];
}

function FailedTab({ def }: { def: PipelineDefinition }) {
  const [data, setData] = useState<FailedBatches | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = () => api<FailedBatches>(`pipelines/${encodeURIComponent(def.name)}/failed-batches`).then((d) => { setData(d); setError(null); }, (e: Error) => setError(e.message));
    void load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, [def.name]);
  if (error) return <div class="error">{error}</div>;
  if (!data) return <p class="muted">loading …</p>;
  return (
    <div data-testid="failed-batches">
      <p class="muted">On-failure destination <code>{data.destination}</code>: batches the event source mapping gave up on (retries exhausted or records too old), as Lambda records them.</p>
      {data.batches.length === 0 ? <p data-testid="failed-empty">No failed batches.</p> : (
        <table class="grid">
          <thead><tr><th>when</th><th>condition</th><th>source</th><th>records</th><th>positions</th><th>invocations</th><th>function error</th><th>payload</th></tr></thead>
          <tbody>
            {data.batches.map((b) => {
              const r = (b.record ?? {}) as { timestamp?: string; requestContext?: { condition?: string; approximateInvokeCount?: number }; responseContext?: { functionError?: string; statusCode?: number } | null; KinesisBatchInfo?: { shardId: string; startSequenceNumber: string; endSequenceNumber: string; batchSize: number }; KafkaBatchInfo?: { batchSize: number; recordsInfo: Record<string, { firstRecordOffset: string; lastRecordOffset: string }> } };
              const k = r.KinesisBatchInfo;
              const kf = r.KafkaBatchInfo;
              const kfp = kf ? Object.entries(kf.recordsInfo)[0] : undefined;
              return (
                <tr key={b.key}>
                  <td>{r.timestamp ?? ''}</td>
                  <td><span class="badge warn">{r.requestContext?.condition ?? b.unreadable}</span></td>
                  <td class="mono">{k?.shardId ?? kfp?.[0] ?? ''}</td>
                  <td class="num">{k?.batchSize ?? kf?.batchSize ?? ''}</td>
                  <td class="mono ellipsis">{k ? `${k.startSequenceNumber} … ${k.endSequenceNumber}` : kfp ? `${kfp[1].firstRecordOffset} … ${kfp[1].lastRecordOffset}` : ''}</td>
                  <td class="num">{r.requestContext?.approximateInvokeCount ?? ''}</td>
                  <td>{r.responseContext?.functionError ?? ''}</td>
                  <td><Lazy summary={b.key.split('/').at(-1) ?? b.key} text={() => (b.payload ? JSON.stringify(JSON.parse(b.payload), null, 2) : '(no payload)')} /></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

interface RunRecord {
  query: string; scheduledTime: string; intervalStart: string; intervalEnd: string; status: string; attempts: number;
  dataScannedBytes: number; engineExecutionMs: number; finishedAt: string | null; outputLocation: string; error: string | null; queryExecutionId: string | null;
}

function ScheduledTab({ def }: { def: PipelineDefinition }) {
  const [runs, setRuns] = useState<RunRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = () => api<{ runs: RunRecord[] }>(`pipelines/${encodeURIComponent(def.name)}/runs`).then((r) => setRuns(r.runs), (e: Error) => setError(e.message));
    void load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, [def.name]);
  if (def.scheduledQueries.length === 0) return <p>This pipeline has no scheduled queries.</p>;
  return (
    <div data-testid="scheduled">
      {error && <div class="error">{error}</div>}
      {def.scheduledQueries.map((q) => {
        const mine = (runs ?? []).filter((r) => r.query === q.name);
        return (
          <section key={q.name} class="card">
            <h3>{q.name} <span class="muted small"><code>{q.schedule}</code> · next run {q.nextRun}</span></h3>
            <p class="muted">{q.description}</p>
            <details><summary>SQL</summary><pre class="sql">{q.sql}</pre></details>
            {runs === null ? <p class="muted">loading …</p> : mine.length === 0 ? <p class="muted" data-testid={`runs-empty-${q.name}`}>No runs recorded yet.</p> : (
              <table class="grid" data-testid={`runs-${q.name}`}>
                <thead><tr><th>scheduled</th><th>interval</th><th>status</th><th>attempts</th><th>scanned</th><th>engine time</th><th>finished</th><th>output</th><th>error</th></tr></thead>
                <tbody>
                  {mine.map((r) => (
                    <tr key={r.intervalStart}>
                      <td>{r.scheduledTime}</td>
                      <td class="small">{r.intervalStart} → {r.intervalEnd}</td>
                      <td><span class={`badge ${r.status === 'SUCCEEDED' ? 'ok' : r.status === 'FAILED' ? 'warn' : ''}`}>{r.status}</span></td>
                      <td class="num">{r.attempts}</td>
                      <td class="num">{formatBytes(r.dataScannedBytes)}</td>
                      <td class="num">{formatDuration(r.engineExecutionMs)}</td>
                      <td>{r.finishedAt ?? ''}</td>
                      <td class="mono small ellipsis" title={r.outputLocation}>{r.outputLocation}</td>
                      <td class="err">{r.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        );
      })}
    </div>
  );
}

export function PipelinePage({ name, tab, live }: { name: string; tab: string; live: PipelineOverview | undefined }) {
  const [def, setDef] = useState<PipelineDefinition | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDef(null);
    api<PipelineDefinition>(`pipelines/${encodeURIComponent(name)}`).then(setDef, (e: Error) => setError(e.message));
  }, [name]);
  if (error) return <div class="error">{error}</div>;
  if (!def) return <p class="muted">loading …</p>;
  const current = (TABS.find((t) => t.id === tab) ?? TABS[0]!).id;
  const batches = live?.counts.batches ?? 0;
  return (
    <div data-testid={`pipeline-page-${name}`}>
      <header class="page-head">
        <h2>{def.name}</h2>
        <span class="muted">{def.description}</span>
        <div class="muted small">
          source {def.source.kind === 'kinesis' ? `Kinesis stream ${def.source.stream} (${def.source.shards} shards)` : `Kafka topic ${def.source.topic} (${def.source.partitions} partitions)`}
          {' · '}event time <code>{def.eventTime}</code>{def.filter && <> · filter <code>{def.filter}</code></>} · allowed lateness {formatDuration(def.allowedLatenessMs)}
          {live && <> · received {formatNumber(live.counts.received)}, quarantined {formatNumber(live.counts.quarantined)}, late {formatNumber(live.counts.late)}</>}
        </div>
      </header>
      <nav class="tabs">
        {TABS.map((t) => <a key={t.id} href={`#/pipeline/${encodeURIComponent(name)}/${t.id}`} class={t.id === current ? 'active' : ''} data-testid={`tab-${t.id}`}>{t.label}</a>)}
      </nav>
      {current === 'windows' && (def.aggregates.length > 0 ? <WindowsTab def={def} batches={batches} /> : <p>This pipeline has no aggregate.</p>)}
      {current === 'late' && <BrowseTab key="late" def={def} table="late" />}
      {current === 'quarantine' && <BrowseTab key="quarantine" def={def} table="quarantine" />}
      {current === 'failed' && <FailedTab def={def} />}
      {current === 'scheduled' && <ScheduledTab def={def} />}
    </div>
  );
}
