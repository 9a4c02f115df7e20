/**
 * Limits on connections before any request is read: how many one address
 * may hold open at once. A slow-header or idle-connection flood from a few
 * addresses then costs each of them its own share, not the server's file
 * descriptors. Addresses of our own edges and proxies are exempt: every
 * listener arrives through them.
 */
import type { Server, Socket } from 'node:net';
import { BlockList, isIP } from 'node:net';

export interface ConnectionLimitOptions {
  perAddress: number;
  /** Addresses or CIDRs never limited (the edges in front: TRIBUNE_TRUST_PROXY). */
  exempt: readonly string[];
}

export interface ConnectionLimiter {
  open(): number;
  refused(): number;
}

export function limitConnections(server: Server, options: ConnectionLimitOptions): ConnectionLimiter {
  const exempt = new BlockList();
  for (const entry of options.exempt) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!address || !isIP(address)) continue;
    if (prefix === undefined) exempt.addAddress(address, family);
    else exempt.addSubnet(address, Number(prefix), family);
  }
  const open = new Map<string, number>();
  let total = 0;
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (address !== '' && exempt.check(address, family)) return;
    const count = (open.get(address) ?? 0) + 1;
    if (count > options.perAddress) {
      refused++;
      // No answer: reading a request from this address would be the work the limit saves.
      socket.destroy();
      return;
    }
    open.set(address, count);
    total++;
    socket.once('close', () => {
      total--;
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
  return { open: () => total, refused: () => refused };
}
