/** A finished Athena query's rows, a page at a time by Athena's NextToken. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type ResultPage } from './api';

export interface Paged {
  page: ResultPage | null;
  /** The index of `page` (the one asked for may still be loading). */
  index: number;
  error: string | null;
  loading: boolean;
  hasNext: boolean;
  next(): void;
  prev(): void;
}

/** Pages of query `id`; earlier pages are refetched by the token that led to them. */
export function usePages(id: string | null, size: number): Paged {
  const [tokens, setTokens] = useState<(string | null)[]>([null]);
  const [index, setIndex] = useState(0);
  const [loaded, setLoaded] = useState<{ page: ResultPage; index: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    setTokens([null]);
    setIndex(0);
    setLoaded(null);
    setError(null);
  }, [id, size]);
  useEffect(() => {
    if (!id) return;
    let live = true;
    const token = tokens[index];
    setLoading(true);
    api<ResultPage>(`queries/${id}/results?size=${size}${token ? `&token=${encodeURIComponent(token)}` : ''}`)
      .then((p) => {
        if (!live) return;
        setLoaded({ page: p, index });
        setError(null);
        setTokens((t) => (t.length === index + 1 && p.nextToken ? [...t, p.nextToken] : t));
      })
      .catch((e: Error) => live && setError(e.message))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [id, index, size, tokens[index]]);
  const page = loaded?.page ?? null;
  const shown = loaded?.index ?? 0;
  return {
    page,
    index: shown,
    error,
    loading,
    hasNext: !!page?.nextToken,
    // From the page on screen, so a click during a load cannot skip a page.
    next: () => !loading && page?.nextToken && setIndex(shown + 1),
    prev: () => !loading && shown > 0 && setIndex(shown - 1),
  };
}

export function Pager({ p, size, label }: { p: Paged; size: number; label?: string }) {
  const from = p.index * size + 1;
  const n = p.page?.rows.length ?? 0;
  return (
    <div class="pager">
      <button onClick={p.prev} disabled={p.index === 0 || p.loading} data-testid="page-prev">‹ prev</button>
      <span data-testid="page-info">{n === 0 ? 'no rows' : `${label ?? 'rows'} ${from}–${from + n - 1}`}</span>
      <button onClick={p.next} disabled={!p.hasNext || p.loading} data-testid="page-next">next ›</button>
    </div>
  );
}

export function ResultTable(props: { page: ResultPage; render?: (col: string, v: string | null, row: (string | null)[]) => ComponentChildren; testId?: string }) {
  const { page } = props;
  return (
    <div class="table-wrap">
      <table class="grid" data-testid={props.testId ?? 'result-table'}>
        <thead>
          <tr>{page.columns.map((c) => <th key={c.name} title={c.type}>{c.name}<span class="type">{c.type}</span></th>)}</tr>
        </thead>
        <tbody>
          {page.rows.map((r, i) => (
            <tr key={i}>
              {r.map((v, j) => {
                const col = page.columns[j]?.name ?? '';
                return <td key={j} class={v === null ? 'null' : ''}>{props.render ? props.render(col, v, r) : v === null ? 'NULL' : v}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
