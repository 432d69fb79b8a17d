/**
 * local/http-guard.ts on real loopback servers: raw requests (so Host, Origin
 * and the path go out exactly as an attacker would write them) against a
 * listener that answers 200 with a wildcard CORS header, as kinesalite does.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRequest, guardedListener, isValidBucketName, pathProblem, startGuardProxy, type GuardProxy, type HttpGuardOptions } from '../local/http-guard';
import { freePort } from '../local/services/service';
import { raw } from './support/raw-http';

let port: number;
let server: http.Server;
let calls = 0;
const uiPort = 4999;

function listen(srv: http.Server, p: number): Promise<void> {
  return new Promise((resolve) => srv.listen(p, '127.0.0.1', resolve));
}

beforeAll(async () => {
  port = await freePort();
  const opts: HttpGuardOptions = { service: 'test service', ports: [port], allowedOriginPorts: [uiPort], maxBodyBytes: 1_000 };
  server = http.createServer(
    guardedListener(opts, (req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        res.setHeader('Access-Control-Allow-Origin', '*');
        res.end('ok');
      });
    }),
  );
  await listen(server, port);
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const host = (): string => `127.0.0.1:${port}`;

describe('Host', () => {
  it.each(['127.0.0.1', 'localhost', 'LOCALHOST', '[::1]'])('accepts %s:<port>', async (name) => {
    const r = await raw(port, { headers: { Host: `${name}:${port}` } });
    expect(r.status).toBe(200);
  });

  it.each(['evil.example', `evil.example:PORT`, '127.0.0.1', `127.0.0.1:1`, `127.0.0.2:PORT`, `localhost.evil.example:PORT`])('refuses Host %s (DNS rebinding)', async (h) => {
    const before = calls;
    const r = await raw(port, { headers: { Host: h.replace('PORT', String(port)) } });
    expect(r.status).toBe(421);
    expect(JSON.parse(r.body)).toMatchObject({ __type: 'MisdirectedRequest' });
    expect(calls).toBe(before);
  });
});

describe('Origin and CORS', () => {
  it('refuses a foreign Origin, and Origin null', async () => {
    for (const origin of ['http://evil.example', `http://127.0.0.1.evil.example:${port}`, 'null', `https://127.0.0.1:${port}`]) {
      const r = await raw(port, { method: 'POST', headers: { Host: host(), Origin: origin, 'Content-Type': 'application/json' }, body: '{}' });
      expect(r.status, origin).toBe(403);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('refuses a cross-site no-cors request that carries no Origin', async () => {
    const r = await raw(port, { headers: { Host: host(), 'Sec-Fetch-Site': 'cross-site' } });
    expect(r.status).toBe(403);
  });

  it('pins the service\'s wildcard Access-Control-Allow-Origin to the allowed origin, and drops it without one', async () => {
    const own = await raw(port, { headers: { Host: host(), Origin: `http://localhost:${port}` } });
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBe(`http://localhost:${port}`);
    const ui = await raw(port, { headers: { Host: host(), Origin: `http://127.0.0.1:${uiPort}` } });
    expect(ui.headers['access-control-allow-origin']).toBe(`http://127.0.0.1:${uiPort}`);
    const none = await raw(port, { headers: { Host: host() } });
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a preflight itself: 403 for a foreign origin, the exact origin for an allowed one', async () => {
    const pre = { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, x-amz-target' };
    const foreign = await raw(port, { method: 'OPTIONS', headers: { Host: host(), Origin: 'http://evil.example', ...pre } });
    expect(foreign.status).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const before = calls;
    const ui = await raw(port, { method: 'OPTIONS', headers: { Host: host(), Origin: `http://localhost:${uiPort}`, ...pre } });
    expect(ui.status).toBe(204);
    expect(ui.headers['access-control-allow-origin']).toBe(`http://localhost:${uiPort}`);
    expect(ui.headers['access-control-allow-headers']).toBe('content-type, x-amz-target');
    expect(calls).toBe(before);
  });
});

describe('bodies', () => {
  it.each([
    ['multipart/form-data; boundary=x', 'POST'],
    ['application/x-www-form-urlencoded', 'POST'],
    ['multipart/form-data; boundary=x', 'PUT'],
    ['text/plain', 'POST'],
  ])('refuses a %s %s (a form post needs no preflight)', async (type, method) => {
    const before = calls;
    const r = await raw(port, { method, headers: { Host: host(), 'Content-Type': type }, body: 'key=../../x' });
    expect(r.status).toBe(415);
    expect(calls).toBe(before);
  });

  it('refuses a body over the cap with 413 before the service reads it, and a body without length with 411', async () => {
    const before = calls;
    const big = await raw(port, { method: 'PUT', headers: { Host: host(), 'Content-Type': 'application/octet-stream', 'Content-Length': '1001' }, body: 'x'.repeat(1001) });
    expect(big.status).toBe(413);
    const chunked = await raw(port, { method: 'PUT', headers: { Host: host(), 'Transfer-Encoding': 'chunked' }, body: 'x' });
    expect(chunked.status).toBe(411);
    expect(calls).toBe(before);
    const ok = await raw(port, { method: 'PUT', headers: { Host: host(), 'Content-Type': 'application/octet-stream', 'Content-Length': '1000' }, body: 'x'.repeat(1000) });
    expect(ok.status).toBe(200);
  });
});

describe('paths', () => {
  it.each(['/a/../b', '/..', '/%2E%2E/x', '/%2e%2e%2fetc', '/a%2Fb', '/a%5Cb', '/a\\b', '/%252E%252E/x', '/x/%00', '/%E0%A4%A'])('refuses %s', async (p) => {
    const r = await raw(port, { path: p, headers: { Host: host() } });
    expect(r.status).toBe(400);
  });

  it('accepts ordinary encoded keys', () => {
    expect(pathProblem('/bucket/dt=2026-01-01/hour=03/part%20one.parquet', 'path')).toBeNull();
    expect(pathProblem('/bucket/a..b/...', 'path')).toBeNull();
  });

  it('checks S3 bucket names, copy sources and prefixes', () => {
    expect(['shardflow-lake', 'a.b-c', 'abc'].every(isValidBucketName)).toBe(true);
    expect(['ab', 'A-b', '-ab', 'a..b', '192.168.0.1', 'xn--abc', '..', '%2E%2E'].some(isValidBucketName)).toBe(false);
    const req = (url: string, headers: Record<string, string> = {}) =>
      checkRequest({ url, method: 'GET', headers: { host: 'localhost:9', ...headers } } as unknown as http.IncomingMessage, { service: 's3', ports: [9], paths: 's3' });
    expect(req('/shardflow-lake/a/b.json')).toBeNull();
    expect(req('/UPPER/x')?.status).toBe(400);
    expect(req('/shardflow-lake?prefix=../../etc')?.status).toBe(400);
    expect(req('/shardflow-lake/x', { 'x-amz-copy-source': '/shardflow-lake/../../etc/passwd' })?.status).toBe(400);
    expect(req('/shardflow-lake/x', { 'x-amz-copy-source': 'shardflow-lake/a%2F..%2F..%2Fx' })?.status).toBe(400);
    expect(req('/shardflow-lake/x', { 'x-amz-copy-source': 'shardflow-lake/a/b.json' })).toBeNull();
  });
});

describe('startGuardProxy', () => {
  let upstream: http.Server;
  let proxy: GuardProxy;
  beforeAll(async () => {
    const upPort = await freePort();
    upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/plain' });
        res.end(`${req.method} ${req.url} ${req.headers.host} ${body}`);
      });
    });
    await listen(upstream, upPort);
    proxy = await startGuardProxy({ service: 'proxied', port: await freePort(), upstream: { host: '127.0.0.1', port: upPort } });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((r) => upstream.close(r));
  });

  it('forwards guarded requests unchanged and strips the upstream wildcard CORS header', async () => {
    const r = await raw(proxy.port, { method: 'POST', path: '/x?y=1', headers: { Host: `localhost:${proxy.port}`, 'Content-Type': 'application/x-amz-json-1.1' }, body: '{"a":1}' });
    expect(r.status).toBe(200);
    expect(r.body).toBe(`POST /x?y=1 localhost:${proxy.port} {"a":1}`);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const foreign = await raw(proxy.port, { headers: { Host: `evil.example:${proxy.port}` } });
    expect(foreign.status).toBe(421);
  });
});
