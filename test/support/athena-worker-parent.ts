/**
 * A process that starts an S3 emulator and a local Athena endpoint on a
 * scratch dir (argv[2]), runs one query and prints "ready <pid>"; it then
 * waits to be killed (test/athena-security.test.ts, worker lifetime).
 */
import path from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { runAthenaQuery, startAthenaEndpoint } from '../../local/athena';
import { startS3Emulator } from '../../local/services/s3';
import { freePort } from '../../local/services/service';
import clickstream from '../../pipelines/clickstream';

const dir = process.argv[2]!;
const s3 = await startS3Emulator({ port: await freePort(), dataDir: path.join(dir, 's3'), buckets: ['lake'] });
const endpoint = await startAthenaEndpoint({ port: await freePort(), s3: { endpoint: s3.endpoint, bucket: 'lake' }, pipelines: [clickstream], dataDir: path.join(dir, 'athena') });
const client = new AthenaClient({ endpoint: endpoint.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
await runAthenaQuery(client, 'SELECT 1');
process.stdout.write(`ready ${process.pid}\n`);
setInterval(() => undefined, 60_000);
