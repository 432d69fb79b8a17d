/**
 * A process that starts the Kinesis emulator (kinesalite, a child process) on a
 * scratch dir (argv[2]) and port (argv[3]), creates a stream and prints "ready";
 * it then waits to be killed (test/services.test.ts, kinesalite lifetime).
 */
import { createStreamIfMissing, localKinesisClient } from '../../local/aws-clients';
import { startKinesisEmulator } from '../../local/services/kinesis';

const svc = await startKinesisEmulator({ engine: 'kinesalite', port: Number(process.argv[3]), dataDir: process.argv[2]! });
const client = localKinesisClient(svc.endpoint);
await createStreamIfMissing(client, 'kept', 1);
process.stdout.write('ready\n');
setInterval(() => undefined, 60_000);
