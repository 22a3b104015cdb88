import { isIP, isIPv4, isIPv6 } from 'node:net';
import { BadRequestError } from '../core/errors.js';
import { mappedIpv4 } from '../core/ip.js';

/** A set of addresses/CIDRs (server.trusted_proxies). */
export interface AddressSet {
  contains(ip: string): boolean;
}

/**
 * An IPv4-mapped address as the IPv4 address it stands for, however it is spelled
 * (`::ffff:10.1.2.3`, `::ffff:a01:203` and `0:0:0:0:0:ffff:10.1.2.3` read as `10.1.2.3`); any
 * other address as it is.
 */
export function normalizeIp(ip: string): string {
  return ip.includes(':') ? (mappedIpv4(ip) ?? ip) : ip;
}

/**
 * One X-Forwarded-For entry in the forms proxies write: an address (`203.0.113.9`,
 * `2001:db8::1`), an IPv4 address with a port (`203.0.113.9:5555`), an IPv6 address in brackets
 * with or without a port (`[2001:db8::1]`, `[2001:db8::1]:443`). Undefined for anything else
 * (names, zones, empty entries, ports out of range).
 */
function parseHop(text: string): string | undefined {
  const hop = text.trim();
  if (isIP(hop) !== 0 && !hop.includes('%')) return normalizeIp(hop);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d+\.\d+\.\d+\.\d+))(?::(\d{1,5}))?$/.exec(hop);
  if (!m || (m[3] !== undefined && Number(m[3]) > 65_535)) return undefined;
  if (m[1] !== undefined) return isIPv6(m[1]) ? normalizeIp(m[1]) : undefined;
  if (m[3] === undefined) return undefined; // a bare IPv4 address was handled above
  return isIPv4(m[2]!) ? m[2] : undefined;
}

/**
 * The client's address (docs/http-api.md "Client address and trusted proxies"): the socket
 * peer, unless the peer is a trusted proxy; then
 * X-Forwarded-For is read from the right, skipping trusted proxies, and the first address that
 * is not one wins. A client-supplied left-most entry therefore never wins over what our own
 * proxy appended, and entries left of the winner are not read at all.
 *
 * An entry that must be read and does not parse (see parseHop) is a BadRequestError (400): the
 * proxy is never taken for the client, which would put every client behind it in one lockout
 * count and let `ip:` rules covering the proxy match.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trusted: AddressSet,
): { ip: string | null; via: string | null } {
  if (!peer) return { ip: null, via: null };
  const socketIp = normalizeIp(peer);
  if (forwardedFor === undefined || !trusted.contains(socketIp)) return { ip: socketIp, via: null };
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor as string)).split(',');
  let ip = socketIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseHop(hops[i]!);
    if (hop === undefined) {
      throw new BadRequestError(
        'X-Forwarded-For from a trusted proxy holds an entry that is not an IP address (with an optional port)',
      );
    }
    ip = hop;
    if (!trusted.contains(hop)) break;
  }
  return { ip, via: ip === socketIp ? null : socketIp };
}
