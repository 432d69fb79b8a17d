/**
 * The web UI of `shardflow dev`: a loopback HTTP server for the static bundle
 * (local/ui/dist) and its JSON API (./api.ts).
 *
 * No other site can use it. The shared guard (../http-guard.ts) refuses a
 * Host that does not name this server (DNS rebinding), an Origin or
 * Sec-Fetch-Site from elsewhere, form posts, bodies over the cap and odd paths.
 * On top of it every API call needs the `X-Shardflow-UI` header and, to POST,
 * a JSON body: a cross-site page can send neither without a CORS preflight,
 * which is granted to this server's own origin only. Only the bundle's fixed
 * file names are served; the CSP keeps the page to its own scripts.
 */
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createGuard } from '../http-guard';
import { assertPortFree, ServiceStartError, type RunningService } from '../services/service';
import { ApiError, handleApi, type UiSources } from './api';
import { ensureUiBuilt, UI_DIST_DIR } from './build';

export const DEFAULT_UI_PORT = 4571;
/** The header every API request carries; the page's own fetches set it. */
export const UI_API_HEADER = 'x-shardflow-ui';
/** Largest API request body: a SQL text up to Athena's 262,144 characters, as JSON. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface UiServerOptions {
  readonly sources: UiSources;
  /** Loopback port. @default 4571 */
  readonly port?: number;
  /** The bundle folder. @default local/ui/dist (built on start when missing) */
  readonly distDir?: string;
}

export interface UiServer extends RunningService {
  /** http://127.0.0.1:<port>/ */
  readonly url: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra });
  res.end(body);
}

const sendJson = (res: http.ServerResponse, status: number, body: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY_BYTES) throw new ApiError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const port = opts.port ?? DEFAULT_UI_PORT;
  await assertPortFree('web UI', port);
  const dist = await ensureUiBuilt(opts.distDir ?? UI_DIST_DIR);
  const files = new Map<string, Buffer>();
  for (const f of new Set(Object.values(STATIC).map((s) => s.file))) files.set(f, await fs.readFile(path.join(dist, f)));

  const guard = createGuard({ service: 'web UI', ports: [port], maxBodyBytes: MAX_BODY_BYTES, contentTypes: ['application/json'], errorFormat: 'json' });
  const server = http.createServer((req, res) => {
    if (!guard(req, res)) return;
    void (async () => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      if (!url.pathname.startsWith('/api/')) {
        const s = STATIC[url.pathname];
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` });
        if (!s) return sendJson(res, 404, { error: `no such page: ${url.pathname}` });
        return send(res, 200, s.type, files.get(s.file)!);
      }
      try {
        if (req.headers[UI_API_HEADER] !== '1') throw new ApiError(403, `API requests need the header ${UI_API_HEADER}: 1`);
        if (req.method !== 'GET' && req.method !== 'POST') throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}`);
        let body: Record<string, unknown> | null = null;
        if (req.method === 'POST') {
          if (!/^application\/json(;|$)/i.test(req.headers['content-type'] ?? '')) throw new ApiError(415, 'POST bodies must be application/json');
          try {
            const parsed: unknown = JSON.parse((await readBody(req)).toString('utf8'));
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
            body = parsed as Record<string, unknown>;
          } catch (err) {
            if (err instanceof ApiError) throw err;
            throw new ApiError(400, 'the request body is not a JSON object');
          }
        }
        let segments: string[];
        try {
          segments = url.pathname.slice('/api/'.length).split('/').filter((s) => s !== '').map(decodeURIComponent);
        } catch {
          throw new ApiError(400, `malformed path ${url.pathname}`);
        }
        const answer = await handleApi(opts.sources, { method: req.method, segments, query: url.searchParams, body });
        if (answer.kind === 'csv') return send(res, 200, 'text/csv; charset=utf-8', answer.body, { 'Content-Disposition': `attachment; filename="${answer.filename}"` });
        return sendJson(res, 200, answer.body);
      } catch (err) {
        if (err instanceof ApiError) return sendJson(res, err.status, { error: err.message });
        const e = err as Error & { $metadata?: { httpStatusCode?: number } };
        const upstream = e.$metadata?.httpStatusCode;
        // An Athena or S3 refusal of what the user asked (bad token, unknown id) is the user's to read;
        // the endpoint failing or not answering is the runtime's.
        if (upstream !== undefined && upstream >= 400 && upstream < 500) return sendJson(res, 400, { error: e.message });
        if (upstream !== undefined || (e as { code?: string }).code === 'ECONNREFUSED') return sendJson(res, 502, { error: `the local endpoint failed: ${e.message}` });
        return sendJson(res, 500, { error: e.message });
      }
    })().catch(() => res.destroy());
  });
  server.requestTimeout = 120_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ServiceStartError('web UI', `failed to listen on 127.0.0.1:${port}: ${err.message}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  opts.sources.history.start();
  let stopped = false;
  return {
    name: 'ui',
    endpoint: `http://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      opts.sources.history.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
