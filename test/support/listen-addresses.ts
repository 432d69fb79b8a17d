/**
 * The TCP ports that this process and its descendants listen on, with the
 * address each is bound to, read from /proc (Linux): /proc/<pid>/fd names a
 * socket's inode, /proc/net/tcp{,6} its local address and state.
 */
import fs from 'node:fs';

export interface ListeningSocket {
  readonly pid: number;
  readonly address: string;
  readonly port: number;
  readonly loopback: boolean;
}

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(name)]);
    } catch {
      /* exited meanwhile */
    }
  }
  return byParent;
}

/** `root` and every process below it. */
export function processTree(root = process.pid): number[] {
  const byParent = children();
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i]!) ?? []));
  return out;
}

function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.add(m[1]!);
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* exited */
  }
  return out;
}

function decode(hex: string): { address: string; loopback: boolean } {
  if (hex.length === 8) {
    const bytes = Buffer.from(hex, 'hex').reverse(); // little-endian on the hosts we run on
    return { address: [...bytes].join('.'), loopback: bytes[0] === 127 };
  }
  const words = hex.match(/.{8}/g)!.map((w) => Buffer.from(w, 'hex').reverse().toString('hex'));
  const full = words.join('');
  const loopback = full === '00000000000000000000000000000001' || (full.startsWith('00000000000000000000ffff') && full.slice(24, 26) === '7f');
  return { address: full.replace(/(.{4})(?!$)/g, '$1:'), loopback };
}

/** Listening TCP sockets of the given processes (default: this one and its descendants). */
export function listeningSockets(pids = processTree()): ListeningSocket[] {
  const owner = new Map<string, number>();
  for (const pid of pids) for (const inode of socketInodes(pid)) owner.set(inode, pid);
  const out: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      const pid = owner.get(f[9]!);
      if (pid === undefined) continue;
      const [hex, portHex] = f[1]!.split(':');
      out.push({ pid, port: parseInt(portHex!, 16), ...decode(hex!) });
    }
  }
  return out;
}
