/** The `shardflow dev` web UI: overview, one page per pipeline, and a SQL console. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { api, type Overview } from './api';
import { ConsolePage } from './console';
import { OverviewPage } from './overview';
import { PipelinePage } from './pipeline';

function useHash(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const on = () => setParts(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parts;
}

function App() {
  const route = useHash();
  const [overview, setOverview] = useState<Overview | null>(null);
  const [down, setDown] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout>;
    const tick = async () => {
      try {
        const o = await api<Overview>('overview');
        if (!live) return;
        setOverview(o);
        setDown(null);
      } catch (e) {
        if (live) setDown((e as Error).message);
      }
      if (live) timer = setTimeout(tick, 1_000);
    };
    void tick();
    return () => { live = false; clearTimeout(timer); };
  }, []);
  const page = route[0] ?? '';
  const names = overview?.pipelines.map((p) => p.name) ?? [];
  return (
    <>
      <header class="top">
        <h1><a href="#/">shardflow dev</a></h1>
        <nav>
          <a href="#/" class={page === '' ? 'active' : ''} data-testid="nav-overview">Overview</a>
          {names.map((n) => <a key={n} href={`#/pipeline/${encodeURIComponent(n)}`} class={page === 'pipeline' && route[1] === n ? 'active' : ''} data-testid={`nav-${n}`}>{n}</a>)}
          <a href="#/sql" class={page === 'sql' ? 'active' : ''} data-testid="nav-sql">SQL console</a>
        </nav>
        <span class={down ? 'live down' : 'live'} title={down ?? ''}>{down ? 'disconnected' : overview ? `live · ${overview.at.slice(11, 19)}Z` : 'connecting'}</span>
      </header>
      <main>
        {page === '' && <OverviewPage overview={overview} />}
        {page === 'pipeline' && route[1] && <PipelinePage key={route[1]} name={route[1]} tab={route[2] ?? 'windows'} live={overview?.pipelines.find((p) => p.name === route[1])} />}
        {page === 'sql' && <ConsolePage databases={[...new Set(overview?.pipelines.map((p) => p.database) ?? ['shardflow'])]} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('root')!);
