// Runs a service (the Kafka JVM, kinesis-mock) so that it cannot outlive the
// process that started it, even when that process is SIGKILLed and gets no
// chance to clean up:
//
//   node tether.mjs <graceMs> <command> [args...]
//
// The parent holds the write end of this process's stdin. When the parent
// dies, for whatever reason, the kernel closes that end and stdin reaches EOF;
// the service is then sent SIGTERM, and SIGKILL after graceMs. The service
// runs in this process's group (the parent starts this one detached), so the
// parent's stop() can still signal the whole group at once.
//
// Plain JavaScript on purpose: it starts with `node` alone, no tsx, in ~40 ms.
// Files the service writes are private to the user (umask 077, docs/security.md).
import { spawn } from 'node:child_process';

const [graceArg, command, ...args] = process.argv.slice(2);
const graceMs = Number(graceArg);
if (!command || !Number.isInteger(graceMs) || graceMs < 0) {
  process.stderr.write('usage: node tether.mjs <graceMs> <command> [args...]\n');
  process.exit(2);
}

// Once the parent is gone its ends of stdout/stderr are closed too: a write there fails with
// EPIPE, which must not take this process down before it has stopped the service.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

process.umask(0o077);
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const parent = process.ppid;
let ending = false;

function stopChild(why) {
  if (ending) return;
  ending = true;
  process.stderr.write(`[tether] ${why}: stopping ${command} (pid ${child.pid})\n`);
  child.kill('SIGTERM');
  setTimeout(() => {
    // The whole group, so whatever the service forked goes too (this process included, last).
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, graceMs).unref();
}

child.once('error', (err) => {
  process.stderr.write(`[tether] could not run ${command}: ${err.message}\n`);
  process.exit(127);
});
child.once('exit', (code, signal) => {
  // Same outcome as the service, so the parent's messages name the real cause.
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});

// The parent's liveness: EOF (or an error) on stdin means it is gone.
process.stdin.on('data', () => undefined);
process.stdin.once('end', () => stopChild('parent closed the liveness pipe'));
process.stdin.once('error', () => stopChild('liveness pipe failed'));
// Belt and braces for a parent that handed its stdin end to someone else: reparenting.
setInterval(() => {
  if (process.ppid !== parent) stopChild(`parent ${parent} exited`);
}, 1_000).unref();

// The parent's stop() signals the whole group; a signal aimed at this process alone is passed on.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    if (!child.killed) child.kill(sig);
  });
}
