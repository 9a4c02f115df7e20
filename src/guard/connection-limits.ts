/**
 * Limits on connections before any request is read: how many one address
 * may hold open at once. A slow-header or idle-connection flood from a few
 * addresses then costs each of them its own share, not the server's file
 * descriptors. Addresses of our own edges and proxies are exempt: every
 * listener arrives through them.
 *
 * An origin behind edges can go further and accept only the edges
 * (TRIBUNE_ACCEPT_FROM): anyone else's connection is closed before a byte of
 * it is read, so a flood aimed past the edges at the origin's port costs an
 * accept and a close, not a request.
 */
import type { Server, Socket } from 'node:net';
import { BlockList, isIP } from 'node:net';

export interface ConnectionLimitOptions {
  perAddress: number;
  /** Addresses or CIDRs never limited (the edges in front: TRIBUNE_TRUST_PROXY). */
  exempt: readonly string[];
  /** When not empty, the only addresses or CIDRs that may connect at all. */
  acceptOnly?: readonly string[] | undefined;
}

export interface ConnectionLimiter {
  open(): number;
  refused(): number;
  /** Connections closed because their address may not connect (acceptOnly). */
  turnedAway(): number;
}

function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!address || !isIP(address)) continue;
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** The address as its family sees it: an IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d. */
function plainAddress(socket: Socket): { address: string; family: 'ipv4' | 'ipv6' } {
  const raw = socket.remoteAddress ?? '';
  const address = raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export function limitConnections(server: Server, options: ConnectionLimitOptions): ConnectionLimiter {
  const exempt = addressList(options.exempt);
  const acceptOnly = options.acceptOnly && options.acceptOnly.length > 0 ? addressList(options.acceptOnly) : undefined;
  const open = new Map<string, number>();
  let total = 0;
  let refused = 0;
  let turnedAway = 0;
  // After the HTTP server's own listener has set up the parser, but before
  // anything is read: the socket is destroyed in the same tick.
  server.on('connection', (socket: Socket) => {
    const { address, family } = plainAddress(socket);
    if (acceptOnly && (address === '' || !acceptOnly.check(address, family))) {
      turnedAway++;
      socket.destroy();
      return;
    }
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
  return { open: () => total, refused: () => refused, turnedAway: () => turnedAway };
}
