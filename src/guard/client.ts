import { isIPv6 } from 'node:net';
import { ipv6ToBigInt } from '../core/ip.js';

/**
 * The client as the lockout counts it: an IPv4 address as it is; an IPv6 address as its network
 * of `prefix` bits (`2001:db8:1:2::/64`), since one subscriber gets at least a /64 and could
 * otherwise take a fresh address for every guess; '' when the address is unknown.
 */
export function clientKey(ip: string | null, prefix: number): string {
  if (ip === null) return '';
  if (!isIPv6(ip)) return ip;
  const bits = ipv6ToBigInt(ip);
  const host = (1n << BigInt(128 - prefix)) - 1n;
  const network = bits & ~host & ((1n << 128n) - 1n);
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((network >> BigInt(i * 16)) & 0xffffn).toString(16));
  return `${groups.join(':')}/${prefix}`;
}
