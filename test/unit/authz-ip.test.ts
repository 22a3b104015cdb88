import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { compileIpList, parseIpMatcher } from '../../src/authz/ip.js';
import { ConfigErrors } from '../../src/core/errors.js';

describe('parseIpMatcher', () => {
  test.each([
    // [entry, client, contained]
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.2', false],
    ['127.0.0.0/8', '127.255.0.9', true],
    ['127.0.0.0/8', '128.0.0.1', false],
    ['10.1.2.3/8', '10.9.9.9', true], // host bits are ignored, as Go's net.ParseCIDR does
    ['10.0.0.0/32', '10.0.0.0', true],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['2001:db8::1', '2001:db8::1', true],
    ['2001:db8::1', '2001:db8:0:0:0:0:0:1', true], // another spelling of the same address
    ['2001:db8::/48', '2001:db8::2', true],
    ['2001:db8::/48', '2001:db8:1::2', false],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::/0', '2001:db8::1', true],
    // IPv4-mapped IPv6 clients match IPv4 entries (a dual-stack listener reports them so)
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['10.0.0.0/8', '::FFFF:10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:a01:203', true],
    ['10.0.0.0/8', '::ffff:11.1.2.3', false],
    ['127.0.0.1', '::ffff:127.0.0.1', true],
    // … and the other way round
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::ffff:10.1.2.3', '10.1.2.3', true],
    // an IPv4 entry does not cover unrelated IPv6 addresses
    ['0.0.0.0/0', '::1', false],
    // a client's zone index does not hide its address
    ['fe80::/10', 'fe80::1%eth0', true],
    // not addresses: never contained, never thrown
    ['10.0.0.0/8', '', false],
    ['10.0.0.0/8', 'garbage', false],
    ['10.0.0.0/8', '10.0.0', false],
    ['10.0.0.0/8', ' 10.0.0.1', false],
    ['10.0.0.0/8', '10.0.0.1/8', false],
  ])('%s contains %j: %s', (entry, client, expected) => {
    expect(parseIpMatcher(entry).contains(client)).toBe(expected);
  });

  test('keeps its source', () => {
    expect(parseIpMatcher('10.0.0.0/8').source).toBe('10.0.0.0/8');
  });

  test.each([
    ['', 'invalid IP address or CIDR "": "" is not an IPv4 or IPv6 address'],
    ['foo', 'invalid IP address or CIDR "foo": "foo" is not an IPv4 or IPv6 address'],
    ['10.0.0', 'invalid IP address or CIDR "10.0.0": "10.0.0" is not an IPv4 or IPv6 address'],
    ['010.0.0.1', 'invalid IP address or CIDR "010.0.0.1": "010.0.0.1" is not an IPv4 or IPv6 address'],
    [' 10.0.0.1', 'invalid IP address or CIDR " 10.0.0.1": " 10.0.0.1" is not an IPv4 or IPv6 address'],
    [
      '10.0.0.0/33',
      'invalid IP address or CIDR "10.0.0.0/33": the prefix length must be a number from 0 to 32',
    ],
    ['10.0.0.0/', 'invalid IP address or CIDR "10.0.0.0/": the prefix length must be a number from 0 to 32'],
    [
      '10.0.0.0/+8',
      'invalid IP address or CIDR "10.0.0.0/+8": the prefix length must be a number from 0 to 32',
    ],
    [
      '10.0.0.0/8/8',
      'invalid IP address or CIDR "10.0.0.0/8/8": the prefix length must be a number from 0 to 32',
    ],
    [
      '2001:db8::/129',
      'invalid IP address or CIDR "2001:db8::/129": the prefix length must be a number from 0 to 128',
    ],
    ['fe80::1%eth0', 'invalid IP address or CIDR "fe80::1%eth0": a zone index (%…) is not allowed'],
    ['${account}', 'invalid IP address or CIDR "${account}": "${account}" is not an IPv4 or IPv6 address'],
  ])('refuses %j', (entry, message) => {
    expect(() => parseIpMatcher(entry)).toThrow(TypeError);
    expect(() => parseIpMatcher(entry)).toThrow(new TypeError(message)); // exact message
  });

  test.each([
    ['::ffff:172.28.57.0/24', '172.28.57.0/24', '::ffff:172.28.57.0/120'],
    ['::ffff:10.0.0.0/8', '10.0.0.0/8', '::ffff:10.0.0.0/104'],
    ['0:0:0:0:0:ffff:ac1c:3901/95', '172.28.57.1/32', '::ffff:172.28.57.1/128'],
    ['::ffff:192.0.2.77/0', '0.0.0.0/0', '::ffff:0.0.0.0/96'],
  ])('refuses the IPv4-mapped block %s, which would cover every IPv4 address', (entry, ipv4, mapped) => {
    // The prefix counts IPv6 bits: /24 keeps only zeros, a block that holds every IPv4 client
    // (compared as ::ffff:a.b.c.d). Written so, it let any client name its own address.
    expect(() => parseIpMatcher(entry)).toThrow(
      new TypeError(
        `invalid IP address or CIDR ${JSON.stringify(entry)}: an IPv4-mapped block needs a prefix of 96 or more ` +
          `(its prefix counts IPv6 bits, so this one covers every IPv4 address); write the IPv4 block, e.g. ${ipv4}, or ${mapped}`,
      ),
    );
  });

  test('an IPv4-mapped block of 96 bits or more is the IPv4 block it maps', () => {
    const m = parseIpMatcher('::ffff:172.28.57.0/120');
    expect(['172.28.57.9', '::ffff:172.28.57.200'].map((ip) => m.contains(ip))).toEqual([true, true]);
    expect(['172.28.58.1', '203.0.113.9', '2001:db8::1'].map((ip) => m.contains(ip))).toEqual([
      false,
      false,
      false,
    ]);
  });

  test.each(['::/0', '::/1', '::/64', '::/80', '::/95', '::/96', '::0.0.0.0/96', '::c000:0/97'])(
    'the IPv6 block %s holds no IPv4 client, as Go’s IPNet.Contains for docker_auth',
    (entry) => {
      // Found by a review: node's BlockList compares an IPv4 client as ::ffff:a.b.c.d, which lies
      // in ::/0 (and in every ::/n up to 80 bits), so `ip: "::/0"`, meant for IPv6 clients, granted
      // every IPv4 client; as trusted_proxies it let any IPv4 client name its own address.
      const m = parseIpMatcher(entry);
      expect(['192.0.2.10', '::ffff:192.0.2.10', '0.0.0.0'].map((ip) => m.contains(ip))).toEqual([
        false,
        false,
        false,
      ]);
    },
  );

  test('an IPv6 client lies in no IPv4 block, mapped or not, unless it is IPv4-mapped', () => {
    for (const entry of ['0.0.0.0/0', '::ffff:0.0.0.0/96', '::ffff:10.0.0.0/104']) {
      const m = parseIpMatcher(entry);
      expect(['::1', '::a00:1', '2001:db8::1', '64:ff9b::a00:1'].map((ip) => m.contains(ip))).toEqual([
        false,
        false,
        false,
        false,
      ]);
    }
    expect(parseIpMatcher('::/0').contains('::1')).toBe(true);
  });

  test('contains never throws', () => {
    const matchers = ['10.0.0.0/8', '::/0', '2001:db8::/48', '::ffff:10.0.0.0/104'].map(parseIpMatcher);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.ipV4Extended()), (client) => {
        for (const m of matchers) expect(typeof m.contains(client)).toBe('boolean');
      }),
    );
  });
});

describe('compileIpList', () => {
  test('matches any entry', () => {
    const list = compileIpList(['10.0.0.0/8', '192.168.1.1', '2001:db8::/32'], 'server.trusted_proxies');
    expect(list.entries).toEqual(['10.0.0.0/8', '192.168.1.1', '2001:db8::/32']);
    expect(
      ['10.2.3.4', '192.168.1.1', '::ffff:192.168.1.1', '2001:db8::5'].map((ip) => list.contains(ip)),
    ).toEqual([true, true, true, true]);
    expect(['192.168.1.2', '2001:db9::1', '', 'x'].map((ip) => list.contains(ip))).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  test('an IPv4-mapped trusted proxy block with an IPv4-sized prefix is refused by its path', () => {
    expect(() => compileIpList(['::ffff:172.28.57.0/24'], 'server.trusted_proxies')).toThrow(
      /server\.trusted_proxies\[0\]: .*an IPv4-mapped block needs a prefix of 96 or more/,
    );
  });

  test('an IPv6 block among trusted proxies holds no IPv4 client', () => {
    const list = compileIpList(['::/0'], 'server.trusted_proxies');
    expect(['203.0.113.9', '::ffff:203.0.113.9', '2001:db8::1'].map((ip) => list.contains(ip))).toEqual([
      false,
      false,
      true,
    ]);
  });

  test('an empty list contains nothing', () => {
    expect(compileIpList([], 'server.trusted_proxies').contains('127.0.0.1')).toBe(false);
  });

  test('names every bad entry by its YAML path', () => {
    let caught: unknown;
    try {
      compileIpList(['10.0.0.0/8', 'proxy.local', '10.0.0.0/8', '1.2.3.4/40'], 'server.trusted_proxies');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigErrors);
    const errors = (caught as ConfigErrors).errors;
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      [
        'server.trusted_proxies[1]',
        'server.trusted_proxies[1]: invalid IP address or CIDR "proxy.local": "proxy.local" is not an IPv4 or IPv6 address',
      ],
      [
        'server.trusted_proxies[3]',
        'server.trusted_proxies[3]: invalid IP address or CIDR "1.2.3.4/40": the prefix length must be a number from 0 to 32',
      ],
    ]);
    expect((caught as ConfigErrors).code).toBe('ERR_CONFIG');
  });
});

describe('covers: every address of one block lies in another (who-can shadowing)', () => {
  test.each([
    ['10.0.0.0/8', '10.1.2.3/8', true],
    ['10.0.0.0/8', '::ffff:10.0.0.0/104', true],
    ['10.0.0.0/8', '10.1.0.0/16', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['::ffff:10.0.0.0/104', '10.9.0.0/16', true],
    ['10.1.0.0/16', '10.0.0.0/8', false],
    ['10.0.0.0/8', '11.0.0.0/8', false],
    ['10.1.2.3', '10.1.2.3/32', true],
    ['10.1.2.3', '10.1.2.0/31', false],
    ['2001:db8::/32', '2001:db8:1::/48', true],
    ['2001:db8::/48', '2001:db8::/32', false],
    ['::/0', '10.0.0.0/8', false],
    ['0.0.0.0/0', '::ffff:1.2.3.4', true],
    ['0.0.0.0/0', '2001:db8::1', false],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(parseIpMatcher(outer).covers(parseIpMatcher(inner))).toBe(expected);
  });
});

test("covers agrees with contains: a covered block's addresses are all in the cover, else one is not", () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  fc.assert(
    fc.property(v4, fc.nat(32), v4, fc.nat(32), (a, m, b, n) => {
      const outer = parseIpMatcher(`${a}/${m}`);
      const inner = parseIpMatcher(`${b}/${n}`);
      const x = b.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
      const size = 2 ** (32 - n);
      const first = Math.floor(x / size) * size;
      const text = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
      // CIDR blocks nest or are apart: the first and last addresses of inner tell.
      const both = outer.contains(text(first)) && outer.contains(text(first + size - 1));
      expect(outer.covers(inner)).toBe(both);
    }),
    { numRuns: 2000 },
  );
});
