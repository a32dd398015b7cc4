import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';

const system = inject('system');

/** The inodes of the sockets process `pid` holds open. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]!);
  }
  return inodes;
}

/** Every listening TCP socket of the machine, as `address` (IPv4 dotted or IPv6 hex) and its inode. */
async function listeners(): Promise<{ address: string; port: number; inode: string }[]> {
  const found = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8')).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is field 1, st field 3 (0A = LISTEN), inode field 9
      if (fields.length < 10 || fields[3] !== '0A') continue;
      const [hex, port] = fields[1]!.split(':') as [string, string];
      const address =
        hex.length === 8
          ? (hex.match(/../g) as string[])
              .reverse()
              .map((b) => Number.parseInt(b, 16))
              .join('.')
          : hex;
      found.push({ address, port: Number.parseInt(port, 16), inode: fields[9]! });
    }
  }
  return found;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x as /proc/net/tcp6 writes them (32-bit words in host order). */
const loopback = (address: string) =>
  address.startsWith('127.') || address === '00000000000000000000000001000000' || /^0000000000000000FFFF0000..00007F$/i.test(address);

describe('what the start command listens on', () => {
  it('when the system is started with no listen address given, then every service port is on loopback only', async () => {
    const all = await listeners();
    for (const name of ['auth', 'gateway', 'converter', 'notification', 'webhooks']) {
      const pid = Number((await readFile(join(system.pids, `${name}.pid`), 'utf8')).trim());
      const inodes = await socketInodes(pid);
      const own = all.filter((l) => inodes.has(l.inode));
      // The positive signal first: the service's ports were found at all.
      expect(own.length, `${name} listens on some port`).toBeGreaterThan(0);
      for (const l of own) expect(loopback(l.address), `${name} listens on ${l.address}:${l.port}`).toBe(true);
    }
  });
});
