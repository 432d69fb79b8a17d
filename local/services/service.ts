import net from 'node:net';

/** A local service started by Shardflow. `stop()` is idempotent. */
export interface RunningService {
  readonly name: string;
  /** e.g. http://127.0.0.1:4569 (S3), 127.0.0.1:9092 (Kafka). */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A service could not start: the message says which, why, and what to do. */
export class ServiceStartError extends Error {
  constructor(readonly service: string, message: string) {
    super(`${service}: ${message}`);
    this.name = 'ServiceStartError';
  }
}

/** Fails fast, with a clear message, when a port is taken, rather than hanging or binding elsewhere. */
export async function assertPortFree(service: string, port: number, host = '127.0.0.1'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ServiceStartError(
          service,
          err.code === 'EADDRINUSE'
            ? `port ${port} on ${host} is already in use. Stop whatever holds it (\`lsof -i :${port}\`) or choose another port.`
            : `cannot bind ${host}:${port}: ${err.message}`,
        ),
      );
    });
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** Asks the OS for a free loopback port (for tests that run beside a dev session). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
