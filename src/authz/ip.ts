import { BlockList, isIP } from 'node:net';
import { ConfigError, ConfigErrors } from '../core/errors.js';
import { ipv4Text, ipv6ToBigInt, mappedIpv4 } from '../core/ip.js';

/**
 * Whether `text` is one client address as the endpoint sees one, IPv4 or IPv6, without a zone:
 * what the tools take for `--ip` (a block such as `10.0.0.0/8` is no client, and matches no rule).
 */
export function isClientAddress(text: string): boolean {
  return isIP(text) !== 0 && !text.includes('%');
}

/** One address or CIDR block, parsed once (an ACL rule's `match.ip`). */
export interface IpMatcher {
  /** The text it was parsed from, e.g. `10.0.0.0/8`. */
  readonly source: string;
  /** Whether `ip` lies in the block. False for anything that is not an IP address; never throws. */
  contains(ip: string): boolean;
  /** Whether every address `other` matches lies in this block too (`10.0.0.0/8` covers `10.1.0.0/16`). */
  covers(other: IpMatcher): boolean;
}

/** The addresses a block matches, as clients are compared: IPv4 (and IPv4-mapped) or IPv6. */
interface Range {
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

const ranges = new WeakMap<IpMatcher, Range>();

/** A list of addresses and CIDR blocks (`server.trusted_proxies`). */
export interface IpList {
  readonly entries: readonly string[];
  /** Whether `ip` lies in any entry. False for anything that is not an IP address; never throws. */
  contains(ip: string): boolean;
}

const PREFIX = /^\d{1,3}$/;

/**
 * Parses an IPv4 or IPv6 address (`10.1.2.3`, `2001:db8::1`) or CIDR block (`10.0.0.0/8`,
 * `2001:db8::/48`). Host bits in a CIDR are ignored (`10.1.2.3/8` is `10.0.0.0/8`), as Go's
 * `net.ParseCIDR` does for docker_auth. IPv4-mapped IPv6 clients (`::ffff:10.1.2.3`) match
 * IPv4 entries and the other way round (docs/acl.md "ip").
 *
 * Throws a TypeError whose message says what is wrong with `text`.
 */
export function parseIpMatcher(text: string): IpMatcher {
  const blocks = new Blocks();
  const range = addEntry(blocks, text);
  const matcher: IpMatcher = {
    source: text,
    contains: (ip) => check(blocks, ip),
    covers: (other) => {
      const r = ranges.get(other);
      return r !== undefined && r.family === range.family && range.first <= r.first && r.last <= range.last;
    },
  };
  ranges.set(matcher, range);
  return matcher;
}

/** The addresses of the first `bits` of `value`, an address of `family`. */
function blockRange(family: 4 | 6, value: bigint, bits: number): Range {
  const host = (1n << BigInt((family === 4 ? 32 : 128) - bits)) - 1n;
  return { family, first: value & ~host, last: (value & ~host) | host };
}

/**
 * Entries by family, as Go's `IPNet.Contains` sees them for docker_auth: an IPv4 client (or an
 * IPv4-mapped one) lies only in IPv4 blocks (and IPv4-mapped ones, which are IPv4 blocks), an
 * IPv6 client only in IPv6 blocks. One BlockList would compare an IPv4 client as
 * ::ffff:a.b.c.d, which lies in `::/0` and every `::/n` up to 80 bits.
 */
class Blocks {
  readonly v4 = new BlockList();
  readonly v6 = new BlockList();
}

/**
 * Compiles a list of addresses and CIDR blocks once, for membership tests at request time.
 * Throws ConfigErrors naming every bad entry by its YAML path (`server.trusted_proxies[1]`).
 */
export function compileIpList(list: readonly string[], path: string): IpList {
  const blocks = new Blocks();
  const errors: ConfigError[] = [];
  list.forEach((entry, i) => {
    try {
      addEntry(blocks, entry);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      errors.push(new ConfigError(`${path}[${i}]`, err.message, { cause: err }));
    }
  });
  if (errors.length > 0) throw new ConfigErrors(errors);
  return { entries: Object.freeze([...list]), contains: (ip) => check(blocks, ip) };
}

/** Adds one address or block to `blocks`; returns its range (an IPv4-mapped one as IPv4). */
function addEntry(blocks: Blocks, text: string): Range {
  const invalid = (why: string) =>
    new TypeError(`invalid IP address or CIDR ${JSON.stringify(text)}: ${why}`);
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  // A zone (`fe80::1%eth0`) names an interface of this host: meaningless in a rule.
  if (address.includes('%')) throw invalid('a zone index (%…) is not allowed');
  const family = isIP(address);
  if (family === 0) throw invalid(`${JSON.stringify(address)} is not an IPv4 or IPv6 address`);
  // An IPv4-mapped entry is the IPv4 address or block it maps.
  const ipv4 = family === 4 ? address : mappedIpv4(address);
  if (slash < 0) {
    if (ipv4 === undefined) {
      blocks.v6.addAddress(address, 'ipv6');
      return blockRange(6, ipv6ToBigInt(address), 128);
    }
    blocks.v4.addAddress(ipv4, 'ipv4');
    return blockRange(4, BigInt(ipv4Number(ipv4)), 32);
  }
  const prefixText = text.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  const prefix = Number(prefixText);
  if (!PREFIX.test(prefixText) || prefix > max)
    throw invalid(`the prefix length must be a number from 0 to ${max}`);
  // IPv4 clients are compared as ::ffff:a.b.c.d, so a mapped block keeps its IPv4 meaning only
  // with the 96 bits of ::ffff:0:0 in its prefix: `::ffff:10.0.0.0/8` is `::/8`, every IPv4
  // address (and as trusted_proxies, any client could name its own address).
  const mapped = family === 6 && prefix < 96 ? mappedIpv4(address) : undefined;
  if (mapped !== undefined) {
    const bits = Math.min(prefix, 32);
    const network = ipv4Network(mapped, bits);
    throw invalid(
      'an IPv4-mapped block needs a prefix of 96 or more (its prefix counts IPv6 bits, so this one ' +
        `covers every IPv4 address); write the IPv4 block, e.g. ${network}/${bits}, or ::ffff:${network}/${bits + 96}`,
    );
  }
  if (ipv4 !== undefined) {
    // family 4, or an IPv4-mapped block of 96 bits or more (shorter ones were refused above).
    const bits = family === 4 ? prefix : prefix - 96;
    blocks.v4.addSubnet(ipv4, bits, 'ipv4');
    return blockRange(4, BigInt(ipv4Number(ipv4)), bits);
  }
  blocks.v6.addSubnet(address, prefix, 'ipv6');
  return blockRange(6, ipv6ToBigInt(address), prefix);
}

/** The network of a dotted IPv4 address's first `bits` bits (`172.28.57.9`, 24 → `172.28.57.0`). */
function ipv4Network(ip: string, bits: number): string {
  const n = ipv4Number(ip);
  return ipv4Text(bits === 0 ? 0 : (n >>> (32 - bits)) * 2 ** (32 - bits));
}

/** A dotted IPv4 address as a number (`10.0.0.1` → 167772161). */
function ipv4Number(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function check(blocks: Blocks, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  try {
    if (family === 4) return blocks.v4.check(ip, 'ipv4');
    const ipv4 = mappedIpv4(ip);
    return ipv4 === undefined ? blocks.v6.check(ip, 'ipv6') : blocks.v4.check(ipv4, 'ipv4');
  } catch {
    // Addresses isIP accepts but BlockList refuses (e.g. some zone forms): not in the list.
    return false;
  }
}
