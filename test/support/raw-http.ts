/** Raw HTTP for guard tests: the Host, Origin and path go out exactly as written (Node's client normalises neither). */
import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request on 127.0.0.1:`port`; never reuses a connection. */
export function raw(port: number, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers ?? {}, setHost: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    // A server that waits for a body it should have refused must fail the test, not hang it.
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 10_000} ms`)));
    req.end(o.body);
  });
}

/**
 * Writes `head` (request line and headers, no body) on a fresh socket and
 * resolves with the response's status code: for bodies announced but never sent.
 */
export function statusOfHead(port: number, head: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (b: Buffer) => {
      got += b.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m) {
        clearTimeout(timer);
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.write(head.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '\r\n\r\n'));
  });
}
