import { isIP } from 'node:net';

/** A set of addresses/CIDRs (server.trusted_proxies). */
export interface AddressSet {
  contains(ip: string): boolean;
}

/** Drops the IPv4-mapped prefix so `::ffff:10.1.2.3` reads as `10.1.2.3`. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/**
 * The client's address (docs/http-api.md "Client address and trusted proxies"): the socket peer,
 * unless the peer is a trusted proxy; then X-Forwarded-For is read from the right, skipping trusted
 * proxies, and the first address that is not one wins. A client-supplied left-most entry therefore
 * never wins over what our own proxy appended. Garbage in the header stops the walk at the last
 * good hop.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trusted: AddressSet,
): { ip: string | null; via: string | null } {
  if (!peer) return { ip: null, via: null };
  const socketIp = normalizeIp(peer);
  if (forwardedFor === undefined || !trusted.contains(socketIp)) return { ip: socketIp, via: null };
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor as string))
    .split(',')
    .map((h) => normalizeIp(h.trim()));
  let ip = socketIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) break;
    ip = hop;
    if (!trusted.contains(hop)) break;
  }
  return { ip, via: ip === socketIp ? null : socketIp };
}
