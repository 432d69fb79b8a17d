// Preloaded into kinesis-mock (`node --import <this> main.js`), whose build
// hard-codes 0.0.0.0 as its listen address, which would put an unauthenticated
// Kinesis on every network the laptop joins. Every listen without an address,
// or on a wildcard address, goes to 127.0.0.1 instead; a listen on any other
// non-loopback address fails. tls.Server extends net.Server, so both ports are covered.
import net from 'node:net';

const LOOPBACK = '127.0.0.1';
const WILDCARDS = new Set([undefined, null, '', '0.0.0.0', '::', '::0']);

function loopbackHost(host) {
  if (WILDCARDS.has(host)) return LOOPBACK;
  if (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return host;
  throw new Error(`loopback-only.mjs: refusing to listen on ${host}`);
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (first !== null && typeof first === 'object' && !('_handle' in first) && !('fd' in first) && first.path === undefined) {
    args[0] = { ...first, host: loopbackHost(first.host) };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] === 'string') args[1] = loopbackHost(args[1]);
    else args.splice(1, 0, LOOPBACK);
  }
  return listen.apply(this, args);
};
