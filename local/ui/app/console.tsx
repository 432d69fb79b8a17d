/** A SQL console over the local Athena endpoint: the same StartQueryExecution / GetQueryResults as `shardflow query`. */
import { useMemo, useRef, useState } from 'preact/hooks';
import { api, formatBytes, formatDuration, waitForQuery, type QueryState } from './api';
import { Chart } from './chart';
import { Pager, ResultTable, usePages } from './results';

const NUMERIC = /^(tinyint|smallint|integer|int|bigint|double|real|float|decimal.*)$/i;
const TIME = /^(timestamp.*|date)$/i;

function ErrorBox({ q, sql }: { q: QueryState; sql: string }) {
  const e = q.error;
  const line = e?.line ? sql.split('\n')[e.line - 1] : undefined;
  return (
    <div class="error" data-testid="query-error">
      <div><strong>{q.state}</strong>{e?.code && <> · <code data-testid="error-code">{e.code}</code></>}{e?.line && <> · <span data-testid="error-position">line {e.line}, column {e.column}</span></>}</div>
      <div data-testid="error-message">{e?.message ?? q.reason}</div>
      {line !== undefined && e?.column && (
        <pre class="caret">{`${String(e.line).padStart(3)} | ${line}\n    | ${' '.repeat(Math.max(0, e.column - 1))}^`}</pre>
      )}
    </div>
  );
}

function ResultChart({ columns, rows }: { columns: { name: string; type: string }[]; rows: (string | null)[][] }) {
  const numeric = columns.map((c, i) => ({ ...c, i })).filter((c) => NUMERIC.test(c.type));
  const [x, setX] = useState(0);
  const [y, setY] = useState<number | null>(null);
  const [kind, setKind] = useState<'line' | 'bar'>('bar');
  const yi = y ?? numeric.find((c) => c.i !== x)?.i ?? null;
  const chart = useMemo(() => {
    if (yi === null || !columns[x]) return null;
    const xType = columns[x]!.type;
    const isTime = TIME.test(xType);
    const isNum = NUMERIC.test(xType);
    const xs = rows.map((r, i) => (isTime ? Date.parse(`${(r[x] ?? '').replace(' ', 'T')}Z`) / 1000 : isNum ? Number(r[x]) : i));
    const ys = rows.map((r) => (r[yi] === null ? null : Number(r[yi])));
    // uPlot wants ascending x: sort time/number axes, keep row order for categories.
    const order = xs.map((_, i) => i);
    if (isTime || isNum) order.sort((a, b) => xs[a]! - xs[b]!);
    return { data: [order.map((i) => xs[i]!), order.map((i) => ys[i]!)], isTime, categories: isTime || isNum ? undefined : order.map((i) => rows[i]![x] ?? 'NULL') };
  }, [columns, rows, x, yi]);
  if (numeric.length === 0) return <p class="muted small">No numeric column to chart.</p>;
  return (
    <div class="result-chart">
      <div class="toolbar">
        <label>x <select value={x} onChange={(e) => setX(Number((e.target as HTMLSelectElement).value))} data-testid="chart-x">{columns.map((c, i) => <option key={c.name} value={i}>{c.name}</option>)}</select></label>
        <label>y <select value={yi ?? ''} onChange={(e) => setY(Number((e.target as HTMLSelectElement).value))} data-testid="chart-y">{numeric.map((c) => <option key={c.name} value={c.i}>{c.name}</option>)}</select></label>
        <label>as <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as 'line' | 'bar')} data-testid="chart-kind"><option value="bar">bars</option><option value="line">line</option></select></label>
        <span class="muted small">rows of this page</span>
      </div>
      {chart && <Chart data={chart.data} series={[{ label: columns[yi!]!.name }]} kind={kind} time={chart.isTime} {...(chart.categories ? { categories: chart.categories } : {})} testId="result-chart" />}
    </div>
  );
}

export function ConsolePage({ databases }: { databases: string[] }) {
  const [sql, setSql] = useState('SELECT * FROM clickstream_by_category_1m\nORDER BY window_start DESC\nLIMIT 100');
  const [database, setDatabase] = useState(databases[0] ?? 'shardflow');
  const [q, setQ] = useState<QueryState | null>(null);
  const [ranSql, setRanSql] = useState('');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [size, setSize] = useState(100);
  const editor = useRef<HTMLTextAreaElement>(null);
  const pages = usePages(q?.state === 'SUCCEEDED' ? q.queryExecutionId : null, size);

  const run = async () => {
    const text = editor.current?.value ?? sql;
    setRunning(true);
    setError(null);
    setQ(null);
    setRanSql(text);
    try {
      const s = await api<{ queryExecutionId: string }>('queries', { sql: text, database });
      const done = await waitForQuery(s.queryExecutionId);
      setQ(done);
      // Put the cursor where Athena says the error is.
      if (done.error?.line && done.error.column && editor.current) {
        const lines = text.split('\n');
        const offset = lines.slice(0, done.error.line - 1).reduce((n, l) => n + l.length + 1, 0) + done.error.column - 1;
        editor.current.focus();
        editor.current.setSelectionRange(offset, offset + 1);
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setRunning(false);
    }
  };

  const download = async () => {
    if (!q) return;
    const csv = await api<string>(`queries/${q.queryExecutionId}/csv`);
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${q.queryExecutionId}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <div data-testid="console">
      <div class="editor-row">
        <textarea
          ref={editor}
          class="editor"
          spellcheck={false}
          value={sql}
          onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => { if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') { e.preventDefault(); void run(); } }}
          data-testid="sql-editor"
          rows={8}
        />
      </div>
      <div class="toolbar">
        <button class="primary" onClick={() => void run()} disabled={running} data-testid="run-query">{running ? 'running …' : 'Run (Ctrl+Enter)'}</button>
        <label>database <select value={database} onChange={(e) => setDatabase((e.target as HTMLSelectElement).value)}>{databases.map((d) => <option key={d}>{d}</option>)}</select></label>
        <label>page size <select value={size} onChange={(e) => setSize(Number((e.target as HTMLSelectElement).value))}>{[25, 100, 500].map((n) => <option key={n} value={n}>{n}</option>)}</select></label>
        {q?.state === 'SUCCEEDED' && <button onClick={() => void download()} data-testid="download-csv">Download CSV</button>}
        {q && (
          <span class="muted" data-testid="query-stats">
            {q.state} · scanned <span data-testid="bytes-scanned">{formatBytes(q.dataScannedBytes)}</span> · engine {formatDuration(q.engineExecutionMs)} · total {formatDuration(q.totalExecutionMs)} · <span class="mono small">{q.queryExecutionId}</span>
          </span>
        )}
      </div>
      {error && <div class="error">{error}</div>}
      {q && q.state !== 'SUCCEEDED' && <ErrorBox q={q} sql={ranSql} />}
      {pages.error && <div class="error">{pages.error}</div>}
      {pages.page && (
        <>
          <ResultChart columns={pages.page.columns} rows={pages.page.rows} />
          <Pager p={pages} size={size} />
          <ResultTable page={pages.page} />
        </>
      )}
    </div>
  );
}
