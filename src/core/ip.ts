import { isIPv6 } from 'node:net';

/**
 * A valid IPv6 address (as `net.isIPv6` accepts it) as a 128-bit number, in any of its spellings
 * (`::1`, leading zeros, upper case, an IPv4 tail `::ffff:1.2.3.4`); a zone (`%eth0`) is dropped.
 */
export function ipv6ToBigInt(ip: string): bigint {
  let text = ip.split('%')[0]!;
  // An IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) becomes two groups.
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(2).map(Number) as [number, number, number, number];
    text = `${v4[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  return n;
}

/**
 * The IPv4 address (`203.0.113.9`) an IPv4-mapped IPv6 address (`::ffff:0:0/96`) stands for, in
 * any of its spellings (`::ffff:203.0.113.9`, `::ffff:cb00:7109`, `0:0:0:0:0:ffff:cb00:7109`);
 * undefined for anything else.
 */
export function mappedIpv4(ip: string): string | undefined {
  if (!isIPv6(ip)) return undefined;
  const n = ipv6ToBigInt(ip);
  if (n >> 32n !== 0xffffn) return undefined;
  return ipv4Text(Number(n & 0xffffffffn));
}

/** A 32-bit number as a dotted IPv4 address (`0xcb007109` → `203.0.113.9`). */
export function ipv4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * The client as the lockout and every per-client bound count it (`lockout.ipv6_prefix`): an IPv4
 * address as it is; an IPv6 address as its network of `prefix` bits (`2001:db8:1:2::/64`), since
 * one subscriber gets at least a /64 and could otherwise take a fresh address for every request;
 * '' when the address is unknown.
 */
export function clientKey(ip: string | null, prefix: number): string {
  if (ip === null) return '';
  // An IPv4 address holds no colon: the test spares it isIPv6's long regular expression.
  if (!ip.includes(':') || !isIPv6(ip)) return ip;
  const bits = ipv6ToBigInt(ip);
  const host = (1n << BigInt(128 - prefix)) - 1n;
  const network = bits & ~host & ((1n << 128n) - 1n);
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((network >> BigInt(i * 16)) & 0xffffn).toString(16));
  return `${groups.join(':')}/${prefix}`;
}
