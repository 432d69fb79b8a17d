/** The web UI of `shardflow dev` (local/ui/README in the project README's "Web UI" section). */
import type { Pipeline } from '../../core';
import { localAthenaClient } from '../aws-clients';
import type { LocalRuntime } from '../runtime';
import { StatusHistory } from './history';
import { startUiServer, type UiServer } from './server';

export { DEFAULT_UI_PORT, UI_API_HEADER, type UiServer } from './server';
export { buildUi, ensureUiBuilt, UI_DIST_DIR, UiBuildError } from './build';

/** Serves the UI of a running runtime on loopback; `stop()` closes the server and its Athena client. */
export async function startDevUi(rt: LocalRuntime, pipelines: readonly Pipeline[], opts: { port?: number } = {}): Promise<UiServer> {
  const athena = localAthenaClient(rt.info.endpoints.athena);
  try {
    const ui = await startUiServer({
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      sources: { info: rt.info, pipelines, status: () => rt.status(), s3: rt.s3, athena, history: new StatusHistory(() => rt.status()) },
    });
    return { ...ui, url: ui.url, stop: async () => { await ui.stop(); athena.destroy(); } };
  } catch (err) {
    athena.destroy();
    throw err;
  }
}
