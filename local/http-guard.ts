/**
 * The guard in front of every HTTP server `shardflow dev` exposes on loopback
 * (S3, Kinesis, Athena, a web UI). It is what stands between those servers and
 * a web page in the developer's browser: DNS rebinding (a foreign name that
 * resolves to 127.0.0.1) is stopped by the Host check, a cross-site fetch or
 * form by the Origin / Sec-Fetch-Site checks and the refusal of form posts,
 * and a file-backed emulator's path handling by the path rules. The threat
 * model is docs/security.md.
 *
 * API (stable; other modules merge it):
 * - `checkRequest(req, opts)`: the pure decision, a `GuardRefusal` or null.
 * - `createGuard(opts)`: `(req, res) => boolean`; false means the guard has
 *   answered (refusal or CORS preflight) and the service must not. On true it
 *   has also made any `Access-Control-Allow-Origin` the service sets name the
 *   request's allowed origin instead of `*`.
 * - `guardedListener(opts, listener)`: a request listener wrapped in the guard.
 * - `guardServer(server, opts)`: wraps the listeners of a server a library
 *   created (kinesalite, s3rver) in place.
 * - `startGuardProxy(opts)`: a guarded reverse proxy on a public loopback port
 *   for a server in another process that we cannot change (kinesis-mock).
 */
import http from 'node:http';

export interface HttpGuardOptions {
  /** Human name used in refusals, e.g. 'S3 emulator'. */
  readonly service: string;
  /** Ports the service answers on; `Host` must be a loopback name with one of them. */
  readonly ports: readonly number[];
  /** Further loopback ports whose pages may call this service (e.g. the web UI). @default [] */
  readonly allowedOriginPorts?: readonly number[];
  /** Largest request body, in bytes (Content-Length); more is 413. @default 16 MiB */
  readonly maxBodyBytes?: number;
  /**
   * Media types a request body may have (lower case, no parameters); any other is 415.
   * @default any type except browser form posts
   */
  readonly contentTypes?: readonly string[];
  /**
   * 'generic': no `.`/`..` segment, backslash, NUL or encoded slash in the path, however often
   * percent-decoded. 's3': also a valid bucket name as the first segment, and the same rules
   * for `x-amz-copy-source` and the key-like query parameters. @default 'generic'
   */
  readonly paths?: 'generic' | 's3';
  /** How a refusal is written: AWS JSON (`__type`), S3 XML (`<Error>`) or plain text. @default 'json' */
  readonly errorFormat?: 'json' | 'xml' | 'text';
}

/** Why a request was refused: HTTP status, a short code and a message naming what and where. */
export interface GuardRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'] as const;

/** Media types a browser may send cross-origin without a preflight (Fetch standard, CORS-safelisted request header). */
const FORM_TYPES = new Set(['multipart/form-data', 'application/x-www-form-urlencoded']);

/** Methods and headers a preflight may be granted; anything else the browser asks for is left out of the answer. */
const PREFLIGHT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);

/** S3 parameters that name keys, checked like the path (s3rver turns them into file paths). */
const S3_KEY_PARAMS = ['prefix', 'marker', 'start-after', 'key-marker', 'delimiter'];

const refuse = (status: number, code: string, message: string): GuardRefusal => ({ status, code, message });

/** The Host and Origin values an options object allows, built once per object. */
const allowedSets = new WeakMap<HttpGuardOptions, { hosts: Set<string>; origins: Set<string> }>();
function allowed(opts: HttpGuardOptions): { hosts: Set<string>; origins: Set<string> } {
  let sets = allowedSets.get(opts);
  if (!sets) {
    sets = { hosts: loopbackHosts(opts.ports), origins: loopbackOrigins([...opts.ports, ...(opts.allowedOriginPorts ?? [])]) };
    allowedSets.set(opts, sets);
  }
  return sets;
}

function loopbackHosts(ports: readonly number[]): Set<string> {
  const out = new Set<string>();
  for (const p of ports) for (const name of LOOPBACK_NAMES) out.add(`${name}:${p}`);
  return out;
}

function loopbackOrigins(ports: readonly number[]): Set<string> {
  const out = new Set<string>();
  for (const p of ports) for (const name of LOOPBACK_NAMES) out.add(`http://${name}:${p}`);
  return out;
}

/**
 * S3 general purpose bucket naming rules
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html):
 * 3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit,
 * no two adjacent periods, not an IPv4 address, none of the reserved prefixes/suffixes.
 */
export function isValidBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d{1,3}(\.\d{1,3}){3}$/.test(name) &&
    !/^(xn--|sthree-|amzn-s3-demo-)/.test(name) &&
    !/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)
  );
}

function hasBackslashOrControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c || c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * A path (or key, or prefix) that cannot name anything but itself: decoded up to
 * three times (double encoding is how `%252E%252E` slips past one decode), no
 * level may hold a `.`/`..` segment, a backslash, a NUL or control character, or
 * an encoded slash or backslash. Returns what is wrong, or null.
 */
export function pathProblem(raw: string, what: string): string | null {
  let p = raw;
  for (let level = 0; level < 4; level++) {
    if (/%(2f|5c|00)/i.test(p)) return `${what} contains an encoded slash, backslash or NUL`;
    if (hasBackslashOrControl(p)) return `${what} contains a backslash or control character`;
    if (p.split('/').some((seg) => seg === '.' || seg === '..')) return `${what} contains a "." or ".." segment`;
    if (!/%[0-9a-f]{2}/i.test(p)) return null;
    try {
      p = decodeURIComponent(p);
    } catch {
      return `${what} has malformed percent-encoding`;
    }
  }
  return `${what} is percent-encoded more than three times`;
}

function mediaType(req: http.IncomingMessage): string | undefined {
  const ct = req.headers['content-type'];
  return ct === undefined ? undefined : ct.split(';')[0]!.trim().toLowerCase();
}

/** The request's Origin when it is one of the allowed loopback origins, else undefined. */
function allowedOrigin(req: http.IncomingMessage, origins: ReadonlySet<string>): string | undefined {
  const origin = req.headers.origin;
  return origin !== undefined && origins.has(origin.toLowerCase()) ? origin : undefined;
}

function s3Problem(req: http.IncomingMessage, pathname: string, query: URLSearchParams): string | null {
  const segments = pathname.split('/');
  const bucket = segments[1] ?? '';
  if (bucket !== '' && !isValidBucketName(decodeURIComponent(bucket))) {
    return `bucket name ${JSON.stringify(bucket)} breaks the S3 naming rules (3-63 of a-z 0-9 . -, see docs/security.md)`;
  }
  for (const name of S3_KEY_PARAMS) {
    const v = query.get(name);
    if (v !== null) {
      const problem = pathProblem(v, `query parameter ${name}`);
      if (problem) return problem;
    }
  }
  const copy = req.headers['x-amz-copy-source'];
  if (typeof copy === 'string') {
    const source = copy.split('?')[0]!;
    const problem = pathProblem(source, 'x-amz-copy-source');
    if (problem) return problem;
    const srcBucket = source.replace(/^\//, '').split('/')[0] ?? '';
    if (!isValidBucketName(decodeURIComponent(srcBucket))) return `x-amz-copy-source bucket ${JSON.stringify(srcBucket)} breaks the S3 naming rules`;
  }
  return null;
}

/** The guard's decision for one request, without answering it. */
export function checkRequest(req: http.IncomingMessage, opts: HttpGuardOptions): GuardRefusal | null {
  const svc = opts.service;
  const host = req.headers.host?.toLowerCase();
  const { hosts, origins } = allowed(opts);
  if (host === undefined || !hosts.has(host)) {
    return refuse(
      421,
      'MisdirectedRequest',
      `${svc} answers only Host 127.0.0.1, localhost or [::1] with port ${opts.ports.join('/')} (given ${JSON.stringify(req.headers.host ?? null)}); a foreign name is how DNS rebinding reaches loopback`,
    );
  }

  const origin = req.headers.origin;
  if (origin !== undefined && allowedOrigin(req, origins) === undefined) {
    return refuse(403, 'ForbiddenOrigin', `${svc} refuses requests from web pages of other origins (Origin ${JSON.stringify(origin)})`);
  }
  // A no-cors request (img, form, script) may carry no Origin; its Sec-Fetch-Site still says it came from another page.
  const site = req.headers['sec-fetch-site'];
  if (origin === undefined && typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    return refuse(403, 'ForbiddenOrigin', `${svc} refuses ${site} browser requests (Sec-Fetch-Site ${JSON.stringify(site)}, no Origin)`);
  }

  const url = req.url ?? '';
  if (!url.startsWith('/')) return refuse(400, 'InvalidURI', `${svc} accepts only origin-form request targets starting with "/" (given ${JSON.stringify(url.slice(0, 200))})`);
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const problem = pathProblem(pathname, `path ${JSON.stringify(pathname.slice(0, 200))}`);
  if (problem) return refuse(400, 'InvalidURI', `${svc}: ${problem}`);
  if (opts.paths === 's3') {
    let query: URLSearchParams;
    try {
      query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    } catch {
      return refuse(400, 'InvalidURI', `${svc}: malformed query string`);
    }
    const s3 = s3Problem(req, pathname, query);
    if (s3) return refuse(400, 'InvalidRequest', `${svc}: ${s3}`);
  }

  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined && req.headers['transfer-encoding'] !== undefined) {
    // Without a length the cap could only be enforced mid-stream, after the service started reading.
    return refuse(411, 'MissingContentLength', `${svc} needs a Content-Length on request bodies (at most ${max} bytes)`);
  }
  const length = lengthHeader === undefined ? 0 : Number(lengthHeader);
  if (!Number.isSafeInteger(length) || length < 0) return refuse(400, 'InvalidContentLength', `${svc}: Content-Length ${JSON.stringify(lengthHeader)} is not a byte count`);
  if (length > max) return refuse(413, 'RequestEntityTooLarge', `${svc} accepts request bodies of at most ${max} bytes (Content-Length ${length})`);

  const type = mediaType(req);
  if (type !== undefined && FORM_TYPES.has(type)) {
    return refuse(415, 'UnsupportedMediaType', `${svc} refuses form uploads (Content-Type ${type}): a web page can send those without a preflight`);
  }
  if (length > 0 && opts.contentTypes !== undefined && !opts.contentTypes.includes(type ?? '')) {
    return refuse(415, 'UnsupportedMediaType', `${svc} accepts request bodies of type ${opts.contentTypes.join(', ')} (given ${JSON.stringify(type ?? null)})`);
  }
  if (length > 0 && req.method === 'POST' && type === 'text/plain' && opts.contentTypes === undefined) {
    return refuse(415, 'UnsupportedMediaType', `${svc} refuses text/plain POST bodies: a web page can send those without a preflight`);
  }
  return null;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Writes a refusal in the service's error format and closes the connection (an unread body is not read). */
export function sendRefusal(res: http.ServerResponse, refusal: GuardRefusal, format: HttpGuardOptions['errorFormat'] = 'json'): void {
  const body =
    format === 'xml'
      ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${escapeXml(refusal.message)}</Message></Error>\n`
      : format === 'text'
        ? `${refusal.message}\n`
        : JSON.stringify({ __type: refusal.code, message: refusal.message });
  const type = format === 'xml' ? 'application/xml' : format === 'text' ? 'text/plain; charset=utf-8' : 'application/x-amz-json-1.1';
  res.writeHead(refusal.status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    Connection: 'close',
  });
  res.end(body);
}

/**
 * Makes every `Access-Control-Allow-Origin` the service sets name `origin`
 * (or disappear when the request carried no allowed origin), so no wildcard
 * ever leaves the service.
 */
function pinCorsOrigin(res: http.ServerResponse, origin: string | undefined): void {
  const isAcao = (name: string): boolean => name.toLowerCase() === 'access-control-allow-origin';
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) => {
    if (!isAcao(name)) return setHeader(name, value);
    if (origin === undefined) return res;
    const vary = res.getHeader('vary');
    if (vary === undefined) setHeader('Vary', 'Origin');
    else if (!/\borigin\b/i.test(String(vary))) setHeader('Vary', `${String(vary)}, Origin`);
    return setHeader(name, origin);
  }) as typeof res.setHeader;
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    const i = args.findIndex((a, n) => n > 0 && typeof a === 'object' && a !== null);
    if (i > 0) {
      const headers = args[i];
      if (Array.isArray(headers)) {
        const flat: unknown[] = [];
        for (let k = 0; k + 1 < headers.length; k += 2) {
          if (isAcao(String(headers[k]))) {
            if (origin !== undefined) flat.push(headers[k], origin);
          } else flat.push(headers[k], headers[k + 1]);
        }
        args[i] = flat;
      } else {
        const copy: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
          if (!isAcao(k)) copy[k] = v;
          else if (origin !== undefined) copy[k] = origin;
        }
        args[i] = copy;
      }
    }
    return writeHead(...args);
  }) as typeof res.writeHead;
}

/** Answers a CORS preflight from an allowed origin itself, granting only ordinary methods and header names. */
function answerPreflight(req: http.IncomingMessage, res: http.ServerResponse, origin: string): void {
  const method = String(req.headers['access-control-request-method'] ?? '').toUpperCase();
  const headers = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => /^[a-z0-9-]{1,64}$/.test(h));
  res.writeHead(PREFLIGHT_METHODS.has(method) ? 204 : 403, {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': [...PREFLIGHT_METHODS].join(', '),
    ...(headers.length > 0 ? { 'Access-Control-Allow-Headers': headers.join(', ') } : {}),
    'Access-Control-Expose-Headers': 'x-amzn-RequestId, x-amzn-ErrorType, x-amz-request-id, x-amz-id-2, ETag',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
    'Content-Length': '0',
  });
  res.end();
}

export type RequestGuard = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/**
 * The guard as one call per request: true lets the service answer; false means
 * the guard already answered (a refusal, or a preflight from an allowed origin).
 */
export function createGuard(opts: HttpGuardOptions): RequestGuard {
  const { origins } = allowed(opts);
  return (req, res) => {
    const refusal = checkRequest(req, opts);
    if (refusal) {
      sendRefusal(res, refusal, opts.errorFormat);
      return false;
    }
    const origin = allowedOrigin(req, origins);
    if (origin !== undefined && req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      answerPreflight(req, res, origin);
      return false;
    }
    pinCorsOrigin(res, origin);
    return true;
  };
}

/** `listener`, run only for requests the guard lets through. */
export function guardedListener(opts: HttpGuardOptions, listener: http.RequestListener): http.RequestListener {
  const guard = createGuard(opts);
  return (req, res) => {
    if (guard(req, res)) listener(req, res);
  };
}

/**
 * Puts the guard in front of a server a library built (kinesalite, s3rver):
 * its 'request' listeners run only for requests the guard lets through, and
 * `Expect: 100-continue` is answered only after the guard, so a refused body
 * is never sent. Call it before the server accepts connections, or in the same
 * tick as its listen callback.
 */
export function guardServer(server: http.Server, opts: HttpGuardOptions): void {
  const listeners = server.listeners('request') as http.RequestListener[];
  server.removeAllListeners('request');
  const guard = createGuard(opts);
  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    for (const l of listeners) l(req, res);
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (guard(req, res)) dispatch(req, res);
  });
  server.removeAllListeners('checkContinue');
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!guard(req, res)) return;
    res.writeContinue();
    dispatch(req, res);
  });
}

export interface GuardProxyOptions extends Omit<HttpGuardOptions, 'ports'> {
  /** Public loopback port the proxy listens on (the one clients use). */
  readonly port: number;
  /** Where the real server listens (a private loopback port). */
  readonly upstream: { readonly host: string; readonly port: number };
}

export interface GuardProxy {
  readonly port: number;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function endToEnd(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

/**
 * A guarded reverse proxy on 127.0.0.1:`port` for a server we cannot change.
 * Requests pass unchanged (Host included, so signatures still match); responses
 * pass with their CORS origin pinned as `createGuard` does.
 */
export async function startGuardProxy(opts: GuardProxyOptions): Promise<GuardProxy> {
  const guardOpts: HttpGuardOptions = { ...opts, ports: [opts.port] };
  const guard = createGuard(guardOpts);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const upstream = http.request(
      { host: opts.upstream.host, port: opts.upstream.port, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, endToEnd(up.headers));
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) sendRefusal(res, { status: 502, code: 'BadGateway', message: `${opts.service} is not answering: ${err.message}` }, opts.errorFormat);
      else res.destroy(err);
    });
    req.pipe(upstream);
  };
  const server = http.createServer((req, res) => {
    if (guard(req, res)) forward(req, res);
  });
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!guard(req, res)) return;
    // The guard has decided the body is wanted; the upstream never sees the Expect.
    delete req.headers.expect;
    res.writeContinue();
    forward(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        agent.destroy();
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
}
