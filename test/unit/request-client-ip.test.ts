import { describe, expect, test } from 'vitest';
import { compileIpList } from '../../src/authz/ip.js';
import { BadRequestError } from '../../src/core/errors.js';
import { clientAddress } from '../../src/request/client-ip.js';

const trusted = compileIpList(['10.0.0.0/8', '2001:db8::/32'], 'server.trusted_proxies');
const none = compileIpList([], 'server.trusted_proxies');

describe('clientAddress (server.trusted_proxies)', () => {
  test.each([
    // [name, peer, X-Forwarded-For, expected ip, expected via]
    ['no header: the peer', '192.0.2.7', undefined, '192.0.2.7', null],
    ['an untrusted peer’s header is ignored', '192.0.2.7', '203.0.113.9', '192.0.2.7', null],
    ['a trusted proxy’s header names the client', '10.1.2.3', '203.0.113.9', '203.0.113.9', '10.1.2.3'],
    [
      'a forged left-most entry never wins over what the proxy appended',
      '10.1.2.3',
      '198.51.100.1, 203.0.113.9',
      '203.0.113.9',
      '10.1.2.3',
    ],
    [
      'a forged trusted-looking entry left of the real client does not win either',
      '10.1.2.3',
      '10.9.9.9, 203.0.113.9',
      '203.0.113.9',
      '10.1.2.3',
    ],
    [
      'chained trusted proxies are skipped from the right',
      '10.1.2.3',
      '203.0.113.9, 10.5.5.5',
      '203.0.113.9',
      '10.1.2.3',
    ],
    [
      'repeated headers are read as one list',
      '10.1.2.3',
      ['198.51.100.1', '203.0.113.9'],
      '203.0.113.9',
      '10.1.2.3',
    ],
    [
      'IPv4-mapped peer counts as its IPv4 address',
      '::ffff:10.1.2.3',
      '203.0.113.9',
      '203.0.113.9',
      '10.1.2.3',
    ],
    ['IPv4-mapped entries are normalised', '10.1.2.3', '::ffff:203.0.113.9', '203.0.113.9', '10.1.2.3'],
    ['IPv4-mapped untrusted peer: header ignored', '::ffff:192.0.2.7', '10.1.1.1', '192.0.2.7', null],
    // Every spelling of a mapped address is its IPv4 address: as IPv6 they all fell in one /64,
    // so IPv4 clients behind a proxy writing them shared one lockout count.
    ['an IPv4-mapped entry in hex', '10.1.2.3', '::ffff:cb00:7109', '203.0.113.9', '10.1.2.3'],
    ['an IPv4-mapped entry in full', '10.1.2.3', '0:0:0:0:0:ffff:203.0.113.9', '203.0.113.9', '10.1.2.3'],
    ['an IPv4-mapped entry in upper case', '10.1.2.3', '[::FFFF:CB00:7109]:443', '203.0.113.9', '10.1.2.3'],
    ['an IPv4-mapped peer in hex', '::ffff:a01:203', '203.0.113.9', '203.0.113.9', '10.1.2.3'],
    ['IPv6 proxy and client', '2001:db8::1', '2001:db9::5', '2001:db9::5', '2001:db8::1'],
    [
      'garbage stops the walk at the last good hop',
      '10.1.2.3',
      'not-an-ip, 203.0.113.9',
      '203.0.113.9',
      '10.1.2.3',
    ],
    ['an IPv4 client with a port', '10.1.2.3', '203.0.113.9:5555', '203.0.113.9', '10.1.2.3'],
    ['a bracketed IPv6 client', '10.1.2.3', '[2001:db9::5]', '2001:db9::5', '10.1.2.3'],
    ['a bracketed IPv6 client with a port', '10.1.2.3', '[2001:db9::5]:443', '2001:db9::5', '10.1.2.3'],
    ['ports on every hop', '10.1.2.3', '203.0.113.9:1, 10.5.5.5:2', '203.0.113.9', '10.1.2.3'],
    ['only trusted hops: the left-most of them', '10.1.2.3', '10.7.7.7', '10.7.7.7', '10.1.2.3'],
  ] as const)('%s', (_name, peer, xff, ip, via) => {
    expect(clientAddress(peer, xff as string | string[] | undefined, trusted)).toEqual({ ip, via });
  });

  test.each([
    ['garbage right of the client', '203.0.113.9, garbage'],
    ['garbage alone', 'garbage'],
    ['an empty header', ''],
    ['an empty hop', '203.0.113.9, '],
    ['a bare IPv6 address with a port', '2001:db9::5:443:1:2:3:4:5'],
    ['brackets around IPv4', '[203.0.113.9]'],
    ['an unclosed bracket', '[2001:db9::5'],
    ['a port out of range', '203.0.113.9:65536'],
    ['an empty port', '203.0.113.9:'],
    ['a zone', 'fe80::1%eth0'],
    ['garbage behind a trusted hop', 'garbage, 10.5.5.5'],
  ])('a trusted proxy sending %s: 400, never the proxy as the client', (_name, xff) => {
    expect(() => clientAddress('10.1.2.3', xff, trusted)).toThrow(BadRequestError);
    expect(() => clientAddress('10.1.2.3', xff, trusted)).toThrow(/X-Forwarded-For/);
  });

  test('from an untrusted peer, garbage is ignored with the rest of the header', () => {
    expect(clientAddress('192.0.2.7', 'garbage', trusted)).toEqual({ ip: '192.0.2.7', via: null });
  });

  test('without trusted proxies the header is never read', () => {
    expect(clientAddress('127.0.0.1', '10.9.9.9', none)).toEqual({ ip: '127.0.0.1', via: null });
  });

  test('no peer (closed socket): unknown', () => {
    expect(clientAddress(undefined, '203.0.113.9', trusted)).toEqual({ ip: null, via: null });
  });
});
