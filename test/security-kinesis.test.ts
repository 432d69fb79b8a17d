/**
 * Both Kinesis engines as a web page or another machine would reach them
 * (issue 10): no wildcard CORS, foreign Origin and Host refused, and nothing
 * they start listens beyond loopback.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localKinesisClient } from '../local/aws-clients';
import { startLocalServices } from '../local/services/index';
import { startKinesisEmulator, type KinesisEngine } from '../local/services/kinesis';
import { freePort, type RunningService } from '../local/services/service';
import { listeningSockets } from './support/listen-addresses';
import { raw } from './support/raw-http';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shardflow-kinesis-security-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const listStreams = JSON.stringify({});
const json = {
  'Content-Type': 'application/x-amz-json-1.1',
  'X-Amz-Target': 'Kinesis_20131202.ListStreams',
  // Neither engine checks signatures, but kinesalite wants the headers to be there.
  'X-Amz-Date': '20260101T000000Z',
  Authorization: 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
};

describe.each<KinesisEngine>(['kinesalite', 'kinesis-local'])('Kinesis emulator (%s) behind the guard', (engine) => {
  let svc: RunningService;
  let port: number;
  const host = (): string => `127.0.0.1:${port}`;
  beforeAll(async () => {
    port = await freePort();
    svc = await startKinesisEmulator({ engine, port, dataDir: path.join(root, engine) });
  }, 60_000);
  afterAll(async () => {
    await svc?.stop();
  });

  it('answers a foreign preflight with 403 and no CORS grant, an own-origin one with that origin and never *', async () => {
    const pre = { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-amz-target' };
    const foreign = await raw(port, { method: 'OPTIONS', headers: { Host: host(), Origin: 'http://evil.example', ...pre } });
    expect(foreign.status).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const own = await raw(port, { method: 'OPTIONS', headers: { Host: host(), Origin: `http://localhost:${port}`, ...pre } });
    expect(own.headers['access-control-allow-origin']).toBe(`http://localhost:${port}`);
    const call = await raw(port, { method: 'POST', headers: { Host: host(), Origin: `http://localhost:${port}`, ...json }, body: listStreams });
    expect(call.status, call.body).toBe(200);
    expect(call.headers['access-control-allow-origin']).not.toBe('*');
  });

  it('refuses a foreign Origin, a foreign Host (DNS rebinding) and a text/plain simple request', async () => {
    const fromPage = await raw(port, { method: 'POST', headers: { Host: host(), Origin: 'http://evil.example', ...json }, body: listStreams });
    expect(fromPage.status).toBe(403);
    expect(fromPage.body).not.toContain('StreamNames');
    const rebound = await raw(port, { method: 'POST', headers: { Host: `rebind.evil.example:${port}`, ...json }, body: listStreams });
    expect(rebound.status).toBe(421);
    const simple = await raw(port, { method: 'POST', headers: { Host: host(), 'Content-Type': 'text/plain', 'X-Amz-Target': json['X-Amz-Target'] }, body: listStreams });
    expect(simple.status).toBe(415);
  });

  it('still answers the AWS SDK', async () => {
    const client = localKinesisClient(svc.endpoint);
    try {
      expect((await client.send(new ListStreamsCommand({}))).StreamNames).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it('listens on loopback only, public and private ports alike', () => {
    const sockets = listeningSockets();
    expect(sockets.map((s) => s.port)).toContain(port);
    expect(sockets.filter((s) => !s.loopback)).toEqual([]);
  });
});

describe('allowedOriginPorts through startLocalServices', () => {
  it('lets pages of the named loopback port (a local web UI) call S3 and Kinesis, and no other port', async () => {
    const ui = await freePort();
    const ports = { kinesis: await freePort(), s3: await freePort() };
    const services = await startLocalServices({ dataDir: path.join(root, 'ui'), services: ['kinesis', 's3'], ports, allowedOriginPorts: [ui] });
    try {
      const k = { Host: `127.0.0.1:${ports.kinesis}`, ...json };
      const fromUi = await raw(ports.kinesis, { method: 'POST', headers: { ...k, Origin: `http://localhost:${ui}` }, body: listStreams });
      expect(fromUi.status).toBe(200);
      expect(fromUi.headers['access-control-allow-origin']).toBe(`http://localhost:${ui}`);
      const s3 = await raw(ports.s3, { method: 'OPTIONS', path: '/shardflow-lake/k', headers: { Host: `localhost:${ports.s3}`, Origin: `http://127.0.0.1:${ui}`, 'Access-Control-Request-Method': 'PUT' } });
      expect(s3.status).toBe(204);
      expect(s3.headers['access-control-allow-origin']).toBe(`http://127.0.0.1:${ui}`);
      const other = await raw(ports.kinesis, { method: 'POST', headers: { ...k, Origin: `http://localhost:${ui + 1}` }, body: listStreams });
      expect(other.status).toBe(403);
    } finally {
      await services.stopAll();
    }
  }, 60_000);
});
