import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareRepositories, pageOf, parsePageRequest } from '../../src/catalog/pages.js';
import { CatalogError } from '../../src/catalog/errors.js';
import { RegistryCatalog } from '../../src/catalog/registry.js';
import { loadConfigText } from '../../src/config/load.js';
import { BackendUnavailableError, ConfigErrors } from '../../src/core/errors.js';
import type { ExtAuthorizer } from '../../src/authz/ext.js';
import { signAccessToken } from '../../src/token/sign.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { readFileSync } from 'node:fs';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('n and last', () => {
  const parse = (query: string, pageSize = 1000) => parsePageRequest(query, pageSize);
  const refused = (query: string, pageSize = 1000): CatalogError => {
    try {
      parse(query, pageSize);
    } catch (err) {
      if (err instanceof CatalogError) return err;
      throw err;
    }
    throw new Error(`accepted ${query}`);
  };

  test('defaults: 100 entries (or page_size when smaller), from the start', () => {
    expect(parse('')).toEqual({ n: 100, last: '' });
    expect(parse('', 20)).toEqual({ n: 20, last: '' });
    expect(parse('n=&last=')).toEqual({ n: 100, last: '' });
  });

  test('reads n as strconv.Atoi does, and last as a repository name', () => {
    expect(parse('n=2&last=team%2Fapp')).toEqual({ n: 2, last: 'team/app' });
    expect(parse('n=%2B7')).toEqual({ n: 7, last: '' });
    expect(parse('n=007&n=3')).toEqual({ n: 7, last: '' });
    expect(parse('n=0')).toEqual({ n: 0, last: '' });
    expect(parse('n=1000')).toEqual({ n: 1000, last: '' });
  });

  test.each(['n=-1', 'n=abc', 'n=1.5', 'n=0x10', 'n=1e3', 'n=%20', 'n=99999999999999999999'])(
    '%s is PAGINATION_NUMBER_INVALID',
    (query) => {
      const err = refused(query);
      expect([err.status, err.errorCode, err.message]).toEqual([
        400,
        'PAGINATION_NUMBER_INVALID',
        'invalid number of results requested',
      ]);
    },
  );

  test('n above page_size is refused with the number as detail, as the registry does', () => {
    const err = refused('n=1001');
    expect([err.status, err.errorCode, err.detail]).toEqual([400, 'PAGINATION_NUMBER_INVALID', { n: 1001 }]);
    expect(refused('n=6', 5).detail).toEqual({ n: 6 });
  });

  test.each(['last=UPPER', 'last=a%2F%2Fb', 'last=%3Cscript%3E', 'last=a/', `last=${'a'.repeat(256)}`])(
    '%s is NAME_INVALID',
    (query) => {
      const err = refused(query);
      expect([err.status, err.errorCode, err.message]).toEqual([
        400,
        'NAME_INVALID',
        'invalid repository name',
      ]);
      expect(JSON.stringify(err.detail).length).toBeLessThan(100);
    },
  );

  test('the registry order puts "/" before every other byte', () => {
    const names = ['a-b', 'a/b', 'a', 'a.b', 'b', 'a/a/c', 'a0'];
    expect([...names].sort(compareRepositories)).toEqual(['a', 'a/a/c', 'a/b', 'a-b', 'a.b', 'a0', 'b']);
  });

  test('a page starts after last, which need not exist', () => {
    const all = ['a', 'a/b', 'b', 'c/d', 'e'];
    expect(pageOf(all, { n: 2, last: '' })).toEqual({ repositories: ['a', 'a/b'], more: true });
    expect(pageOf(all, { n: 2, last: 'a/b' })).toEqual({ repositories: ['b', 'c/d'], more: true });
    expect(pageOf(all, { n: 2, last: 'c' })).toEqual({ repositories: ['c/d', 'e'], more: false });
    expect(pageOf(all, { n: 2, last: 'z' })).toEqual({ repositories: [], more: false });
    expect(pageOf(all, { n: 0, last: '' })).toEqual({ repositories: [], more: false });
  });
});

describe('catalog: config', () => {
  const tmp = tempDir();
  let keys: { keyPath: string; certPath: string };
  beforeAll(async () => {
    keys = await writeSigningKey(tmp.dir);
  });
  afterAll(() => tmp.cleanup());
  const load = (token: string, catalog: string) =>
    loadConfigText(
      `token:\n  issuer: t\n  key: ${keys.keyPath}\n  certificate: ${keys.certPath}\n${token}catalog:\n${catalog}`,
    );
  const errorsOf = (token: string, catalog: string): string[] => {
    try {
      load(token, catalog);
    } catch (err) {
      if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
      throw err;
    }
    return [];
  };

  test('defaults, and registry_service from token.services', () => {
    const config = load('  services: [reg]\n', '  registry_url: http://r:5000/\n  realm: https://h/auth\n');
    expect(config.catalog).toEqual({
      registryUrl: 'http://r:5000',
      realm: 'https://h/auth',
      registryService: 'reg',
      service: 'regauth-catalog',
      pageSize: 1000,
      cacheTtl: 10,
      uiSession: 3600,
      timeout: 5,
    });
  });

  test('a registry that ignores n and sends 200,000 names in one reply is read whole', async () => {
    const config = load('  services: [reg]\n', '  registry_url: http://r:5000/\n  realm: https://h/auth\n');
    const names = Array.from({ length: 200_000 }, (_, i) => `public/r${String(i).padStart(6, '0')}`);
    const registry = new RegistryCatalog(
      config.catalog!,
      async () => 'a.b.c',
      async () => Response.json({ repositories: names }),
    );
    const { repositories } = await registry.get(NOW);
    expect(repositories).toHaveLength(200_000);
    expect(repositories.at(-1)).toBe('public/r199999');
  });

  test('errors name the YAML path', () => {
    expect(errorsOf('', '  registry_url: http://r\n  realm: https://h/auth\n')).toEqual([
      "catalog.registry_service: required when token.services is empty: the registry's auth.token.service",
    ]);
    // A registry service the token endpoint refuses: the page's tokens for it were refused, and
    // every repository page answered 400. Found by a review.
    expect(
      errorsOf(
        '  services: [reg]\n',
        '  registry_url: http://r\n  realm: https://h/auth\n  registry_service: other\n',
      ),
    ).toEqual([
      'catalog.registry_service: "other" is not in token.services ("reg"); the token endpoint refuses tokens for it',
    ]);
    expect(
      errorsOf(
        '  services: [reg, other]\n',
        '  registry_url: http://r\n  realm: https://h/auth\n  service: other\n',
      ),
    ).toEqual([expect.stringMatching(/^catalog\.service: must differ from the registry's service/)]);
    expect(
      errorsOf(
        '',
        '  registry_url: ftp://r\n  realm: h\n  registry_service: reg\n  page_size: 0\n  cache_ttl: 2h\n  ui_session: 30\n',
      ),
    ).toEqual([
      expect.stringMatching(/^catalog\.registry_url: must be an http\(s\) URL/),
      expect.stringMatching(/^catalog\.realm: must be an http\(s\) URL/),
      expect.stringMatching(/^catalog\.page_size: must be at least 1/),
      expect.stringMatching(/^catalog\.cache_ttl: invalid duration "2h"/),
      expect.stringMatching(/^catalog\.ui_session: invalid duration 30; .*1 minute to 24 hours/),
    ]);
    // Both go into the challenge header, which carries printable ASCII only.
    expect(
      errorsOf(
        '',
        '  registry_url: http://r\n  realm: "https://h/auth\u2013x"\n  service: "catalog\u2013x"\n',
      ),
    ).toEqual([
      expect.stringMatching(/^catalog\.realm: must be printable ASCII/),
      expect.stringMatching(/^catalog\.service: must be printable ASCII/),
    ]);
  });
});

/** A registry's catalog endpoint that checks regauth's own token and pages as distribution does. */
interface FakeRegistry {
  url: string;
  repositories: string[];
  /** Catalog pages served. */
  requests: number;
  /** What the next requests get instead of the catalog. */
  fail: 'no' | '500' | 'hang';
  tokens: Record<string, unknown>[];
  /** The registry's `catalog.maxentries`: a larger `n` is refused with 400. */
  maxEntries: number;
  close(): Promise<void>;
}

async function startFakeRegistry(repositories: string[]): Promise<FakeRegistry> {
  let closed: Promise<void> | undefined;
  const fake: FakeRegistry = {
    url: '',
    repositories,
    requests: 0,
    fail: 'no',
    tokens: [],
    maxEntries: 1000,
    close: () =>
      (closed ??= new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
  const server: Server = createServer((req, res) => {
    if (fake.fail === 'hang') return;
    fake.requests++;
    const url = new URL(req.url ?? '', 'http://x');
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const claims = token ? decodeJwt(token) : undefined;
    if (claims) fake.tokens.push(claims);
    if (fake.fail === '500' || url.pathname !== '/v2/_catalog') {
      res.writeHead(500).end('{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}');
      return;
    }
    if (claims?.aud !== 'reg') {
      res.writeHead(401).end('{}');
      return;
    }
    const n = Math.min(Number(url.searchParams.get('n') ?? '100'), fake.maxEntries);
    if (Number(url.searchParams.get('n') ?? '0') > fake.maxEntries) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        '{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}',
      );
      return;
    }
    const last = url.searchParams.get('last') ?? '';
    const rest = fake.repositories.filter((r) => compareRepositories(r, last) > 0 || last === '');
    const page = rest.slice(0, n);
    if (page.length === n) {
      res.setHeader('Link', `</v2/_catalog?last=${encodeURIComponent(page[n - 1]!)}&n=${n}>; rel="next"`);
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(`${JSON.stringify({ repositories: page })}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

const NOW = 1_800_000_000_000;
const REPOS = [
  'alice/app',
  'alice/tools/lint',
  'bob/app',
  'public/base',
  'public/tools',
  'secret/keys',
  'team/api',
  'team/web',
  'team-other/x',
  'internal/tool',
].sort(compareRepositories);

describe('GET /v2/_catalog', () => {
  const tmp = tempDir();
  const pw = { alice: randomPassword(), bob: randomPassword(), admin: randomPassword() };
  let fake: FakeRegistry;
  let srv: TestServer;

  beforeAll(async () => {
    fake = await startFakeRegistry([...REPOS]);
    srv = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) =>
        [
          'server:',
          '  addr: "127.0.0.1:0"',
          '  path_prefix: /regauth',
          'token:',
          '  issuer: test-issuer',
          `  key: ${keyPath}`,
          `  certificate: ${certPath}`,
          '  services: [reg]',
          'users:',
          `  alice: {password: "${hash(pw.alice)}", labels: {team: [team]}}`,
          `  bob: {password: "${hash(pw.bob)}"}`,
          `  admin: {password: "${hash(pw.admin)}", labels: {group: [admins]}}`,
          '  "": {}',
          'acl:',
          '  - match: {labels: {group: admins}}',
          '    actions: ["*"]',
          '  - match: {account: "/.+/", name: "${account}/**"}',
          '    actions: ["*"]',
          '  - match: {account: "/.+/", name: "${labels:team}/*"}',
          '    actions: [pull]',
          '  - match: {name: "secret/**"}',
          '    actions: []',
          '  - match: {name: "public/*"}',
          '    actions: [pull]',
          '  - match: {account: bob, type: registry}',
          '    actions: [pull]',
          '  - match: {ip: 10.0.0.0/8, name: "internal/*"}',
          '    actions: [pull]',
          'catalog:',
          `  registry_url: ${fake.url}`,
          '  realm: https://registry.example/auth',
          '  page_size: 5',
          '  cache_ttl: 60',
        ].join('\n') + '\n',
      server: { now: () => NOW },
    });
  });
  afterAll(async () => {
    await srv.server.close(100);
    await fake.close();
    tmp.cleanup();
  });

  const tokenFor = async (user?: keyof typeof pw, service = 'regauth-catalog'): Promise<string> => {
    const res = await fetch(`${srv.url}/regauth/auth?service=${service}&scope=registry:catalog:*`, {
      headers: user ? { authorization: basic(user, pw[user]) } : {},
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  };
  const catalog = (token: string | undefined, query = '') =>
    fetch(`${srv.url}/v2/_catalog${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const list = async (token: string, query = ''): Promise<string[]> => {
    const res = await catalog(token, query);
    expect(res.status).toBe(200);
    return ((await res.json()) as { repositories: string[] }).repositories;
  };
  /** Every page from `n`, following Link as a client does. */
  const all = async (token: string, n: number): Promise<{ repositories: string[]; pages: number }> => {
    const out: string[] = [];
    let next: string | undefined = `/v2/_catalog?n=${n}`;
    let pages = 0;
    while (next) {
      const res = await fetch(`${srv.url}${next}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      out.push(...((await res.json()) as { repositories: string[] }).repositories);
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
      pages++;
    }
    return { repositories: out, pages };
  };

  test('without a token: the registry-style challenge, for a service the registry does not accept', async () => {
    const res = await catalog(undefined);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="https://registry.example/auth",service="regauth-catalog",scope="registry:catalog:*"',
    );
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await res.json()).toEqual({
      errors: [
        {
          code: 'UNAUTHORIZED',
          message: 'authentication required',
          detail: [{ Type: 'registry', Class: '', Name: 'catalog', Action: '*' }],
        },
      ],
    });
  });

  test('each caller sees exactly what it may pull (labels and deny rules included)', async () => {
    expect((await all(await tokenFor('alice'), 5)).repositories).toEqual([
      'alice/app',
      'alice/tools/lint',
      'public/base',
      'public/tools',
      'team/api',
      'team/web',
    ]);
    expect(await list(await tokenFor('bob'))).toEqual(['bob/app', 'public/base', 'public/tools']);
    expect(await list(await tokenFor())).toEqual(['public/base', 'public/tools']);
  });

  test('a caller granted registry:catalog:* sees the whole catalog, as from the registry', async () => {
    expect(await list(await tokenFor('admin'), '?n=5')).toEqual(REPOS.slice(0, 5));
    expect((await all(await tokenFor('admin'), 2)).repositories).toEqual(REPOS);
  });

  test('pages of n=2 follow Link (the registry form: path, last then n) to the end', async () => {
    const token = await tokenFor('alice');
    const res = await catalog(token, '?n=2');
    expect(res.headers.get('link')).toBe('</v2/_catalog?last=alice%2Ftools%2Flint&n=2>; rel="next"');
    const pages = await all(token, 2);
    expect(pages).toEqual({ repositories: (await all(token, 5)).repositories, pages: 3 });
    // Without n: min(100, page_size) entries.
    expect(await list(token)).toHaveLength(5);
    expect((await catalog(token, '?n=2&last=team%2Fapi')).headers.get('link')).toBeNull();
    expect(await list(token, '?n=2&last=team%2Fapi')).toEqual(['team/web']);
    expect(await list(token, '?last=bob')).toEqual(['public/base', 'public/tools', 'team/api', 'team/web']);
  });

  test('bad n and last: registry-style 400, nothing else changes', async () => {
    const token = await tokenFor('alice');
    for (const [query, code] of [
      ['?n=-1', 'PAGINATION_NUMBER_INVALID'],
      ['?n=six', 'PAGINATION_NUMBER_INVALID'],
      ['?n=6', 'PAGINATION_NUMBER_INVALID'],
      ['?last=%3Cb%3E', 'NAME_INVALID'],
    ] as const) {
      const res = await catalog(token, query);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { errors: { code: string }[] };
      expect(body.errors[0]?.code, query).toBe(code);
    }
  });

  test('a registry token, a token by another key or an expired one is invalid_token', async () => {
    const registryToken = await tokenFor('admin', 'reg');
    const other = tempDir();
    try {
      const otherKeys = await writeSigningKey(other.dir);
      const otherKey = loadSigningKey({
        keyPem: readFileSync(otherKeys.keyPath, 'utf8'),
        certPem: readFileSync(otherKeys.certPath, 'utf8'),
        keyPath: otherKeys.keyPath,
        certPath: otherKeys.certPath,
        x5c: true,
        kidFormat: 'libtrust',
      });
      const forged = await signAccessToken(
        otherKey,
        { subject: 'admin', audience: 'regauth-catalog', access: [] },
        { issuer: 'test-issuer', expiresInSeconds: 300, now: NOW / 1000 },
      );
      const expired = await signAccessToken(
        srv.runtime.config.token.key,
        { subject: 'admin', audience: 'regauth-catalog', access: [] },
        { issuer: 'test-issuer', expiresInSeconds: 300, now: NOW / 1000 - 600 },
      );
      const otherIssuer = await signAccessToken(
        srv.runtime.config.token.key,
        { subject: 'admin', audience: 'regauth-catalog', access: [] },
        { issuer: 'someone-else', expiresInSeconds: 300, now: NOW / 1000 },
      );
      for (const token of [registryToken, forged, expired, otherIssuer, 'not.a.jwt']) {
        const res = await catalog(token);
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/,error="invalid_token"$/);
      }
      const basicAuth = await fetch(`${srv.url}/v2/_catalog`, {
        headers: { authorization: basic('alice', pw.alice) },
      });
      expect(basicAuth.status).toBe(401);
    } finally {
      other.cleanup();
    }
  });

  // Found by the catalog review: with token.services empty, the endpoint signs tokens for any
  // service, the catalog's included, before a catalog: section exists; such a token has no labels
  // claim, and once a reload added the catalog it read as "no labels", so a deny rule on a label
  // did not hide what it denies. Every catalog token regauth signs carries the claim.
  test('a token for the catalog without a labels claim (or a malformed one) is invalid_token', async () => {
    const unlabelled = await signAccessToken(
      srv.runtime.config.token.key,
      { subject: 'alice', audience: 'regauth-catalog', access: [] },
      { issuer: 'test-issuer', expiresInSeconds: 300, now: NOW / 1000 },
    );
    const malformed = await signAccessToken(
      srv.runtime.config.token.key,
      { subject: 'alice', audience: 'regauth-catalog', access: [], labels: { team: 'web' } as never },
      { issuer: 'test-issuer', expiresInSeconds: 300, now: NOW / 1000 },
    );
    for (const token of [unlabelled, malformed]) {
      const res = await catalog(token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/,error="invalid_token"$/);
    }
    expect((await catalog(await tokenFor('alice'))).status).toBe(200);
  });

  test('the catalog token carries the labels; registry tokens never do', async () => {
    const catalogClaims = decodeJwt(await tokenFor('alice'));
    expect(catalogClaims.aud).toBe('regauth-catalog');
    expect(catalogClaims['labels']).toEqual({ team: ['team'] });
    expect(decodeJwt(await tokenFor('alice', 'reg'))['labels']).toBeUndefined();
  });

  test('regauth reads the registry with its own short-lived token, once per cache_ttl for everyone', async () => {
    const before = fake.requests;
    await Promise.all([list(await tokenFor('alice')), list(await tokenFor('bob')), list(await tokenFor())]);
    expect(fake.requests).toBe(before);
    const own = fake.tokens.at(-1)!;
    expect(own).toMatchObject({
      aud: 'reg',
      iss: 'test-issuer',
      access: [{ type: 'registry', name: 'catalog', actions: ['*'] }],
    });
    expect((own.exp as number) - (own.iat as number)).toBeLessThanOrEqual(60);
  });

  test('a spoofed X-Forwarded-For from an untrusted peer does not pass an ip rule', async () => {
    const token = await tokenFor('bob');
    const res = await fetch(`${srv.url}/v2/_catalog`, {
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.1.2.3' },
    });
    expect(((await res.json()) as { repositories: string[] }).repositories).not.toContain('internal/tool');
  });

  test("concurrent callers each get their own list, never another caller's", async () => {
    const who = ['alice', 'bob', undefined, 'admin'] as const;
    const tokens = await Promise.all(who.map((u) => tokenFor(u)));
    const expected = await Promise.all(tokens.map(async (t) => (await all(t, 5)).repositories));
    expect(new Set(expected.map((e) => e.join())).size).toBe(4);
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const k = i % who.length;
        return { k, got: (await all(tokens[k]!, 1 + (i % 5))).repositories };
      }),
    );
    for (const { k, got } of results) expect(got).toEqual(expected[k]);
  });

  test('other methods: 405 UNSUPPORTED in JSON', async () => {
    const res = await fetch(`${srv.url}/v2/_catalog`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('UNSUPPORTED');
  });
});

describe('GET /v2/_catalog when the registry cannot answer', () => {
  const tmp = tempDir();
  let fake: FakeRegistry;
  let srv: TestServer;
  beforeAll(async () => {
    fake = await startFakeRegistry(['public/a']);
    srv = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) =>
        `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  "": {}\nacl:\n  - match: {name: "public/*"}\n    actions: [pull]\ncatalog:\n  registry_url: ${fake.url}\n  realm: http://h/auth\n  registry_service: reg\n  cache_ttl: 0\n  timeout: 1\n`,
      server: { now: () => NOW },
    });
  });
  afterAll(async () => {
    await srv.server.close(100);
    await fake.close();
    tmp.cleanup();
  });

  test('503 UNAVAILABLE with Retry-After for a 500, a hang, or a closed port; never 500; then recovers', async () => {
    const res = await fetch(`${srv.url}/auth?service=regauth-catalog&scope=registry:catalog:*`);
    const { token } = (await res.json()) as { token: string };
    const get = () => fetch(`${srv.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await (await get()).json()) as { repositories: string[] }).repositories).toEqual(['public/a']);

    const expectUnavailable = async () => {
      const down = await get();
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(await down.json()).toEqual({
        errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }],
      });
    };
    // A registry whose catalog.maxentries is below regauth's page: read in its default pages.
    fake.maxEntries = 3;
    fake.repositories = ['public/a', 'public/b', 'public/c', 'public/d', 'public/e', 'x/y'];
    expect(((await (await get()).json()) as { repositories: string[] }).repositories).toEqual([
      'public/a',
      'public/b',
      'public/c',
      'public/d',
      'public/e',
    ]);
    fake.fail = '500';
    await expectUnavailable();
    fake.fail = 'hang';
    await expectUnavailable();
    fake.fail = 'no';
    expect((await get()).status).toBe(200);
    // The registry stops: connection refused.
    await fake.close();
    await expectUnavailable();
    await Promise.all(Array.from({ length: 5 }, expectUnavailable));
    expect(srv.logs.join('')).not.toContain(token);
  });
});

describe('GET /v2/_catalog when ext_authz cannot answer', () => {
  const tmp = tempDir();
  let fake: FakeRegistry;
  let srv: TestServer;
  beforeAll(async () => {
    fake = await startFakeRegistry(['public/a']);
    const failing = {
      authorize: () => Promise.reject(new BackendUnavailableError('ext_authz', 'the command crashed')),
    } as unknown as ExtAuthorizer;
    srv = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) =>
        `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\nusers:\n  "": {}\nacl:\n  - match: {name: "public/*"}\n    actions: [pull]\ncatalog:\n  registry_url: ${fake.url}\n  realm: http://h/auth\n  registry_service: reg\n`,
      runtime: (loaded) => ({ ...loaded, extAuthz: failing }),
      server: { now: () => NOW },
    });
  });
  afterAll(async () => {
    await srv.server.close(100);
    await fake.close();
    tmp.cleanup();
  });

  test('503 UNAVAILABLE with Retry-After (the catalog scope is asked of it), not 500', async () => {
    const res = await fetch(`${srv.url}/auth?service=regauth-catalog`);
    const { token } = (await res.json()) as { token: string };
    const listed = await fetch(`${srv.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).toBe(503);
    expect(listed.headers.get('retry-after')).toBe('5');
    expect(await listed.json()).toEqual({
      errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }],
    });
  });
});
