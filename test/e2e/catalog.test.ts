import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hash, randomPassword } from '../helpers/fixtures.js';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';
import { buildOciImage } from './harness/oci.js';
import { parseChallenge } from './harness/registry.js';
import { push } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack } from './harness/stack.js';

/**
 * The filtered catalog (docs/catalog.md) against the real registry (Debian's docker-registry
 * 2.8), with repositories pushed by skopeo under several namespaces, through HAProxy running
 * examples/haproxy.cfg unchanged: a client that follows the challenge and the Link headers, as
 * `crane catalog` does, sees exactly the repositories it may pull.
 */

const USERS = ['admin', 'alice', 'bob'] as const;
type User = (typeof USERS)[number];

const REPOSITORIES = [
  'alice/app',
  'alice/tools/lint',
  'bob/app',
  'other/thing',
  'public/base',
  'public/tools',
  'secret/keys',
  'team/api',
  'team/web',
];

let s: Stack;
let haproxy: Haproxy;
let catalogSection = '';
let usersSection = '';
const passwords = Object.fromEntries(USERS.map((u) => [u, randomPassword()])) as Record<User, string>;

const ACL = `acl:
  - match: {labels: {group: admins}}
    actions: ["*"]
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
  - match: {account: "/.+/", name: "\${labels:team}/*"}
    actions: [pull]
  - match: {name: "secret/**"}
    actions: []
  - match: {name: "public/*"}
    actions: [pull]
`;

beforeAll(async () => {
  const users = `users:
  admin: {password: "${hash(passwords.admin)}", labels: {group: [admins]}}
  alice: {password: "${hash(passwords.alice)}", labels: {team: [team]}}
  bob: {password: "${hash(passwords.bob)}"}
  "": {}
`;
  s = await startStack({
    name: 'catalog',
    server: '  trusted_proxies: [127.0.0.1]',
    token: `  services: [${SERVICE}]`,
    config: users + ACL,
  });
  const regauthAddr = s.regauth.url.replace(/^http:\/\//, '');
  haproxy = await startHaproxy({
    configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
    env: { REGISTRY_ADDR: s.registry.host, REGAUTH_ADDR: regauthAddr },
  });
  // Now that the addresses are known: the catalog section, and a reload to apply it.
  catalogSection = `catalog:
  registry_url: ${s.registry.url}
  realm: ${haproxy.url}/auth
  page_size: 50
  cache_ttl: 60
  timeout: 2
`;
  usersSection = users;
  s.writeConfig({ config: `${users}${ACL}${catalogSection}` });
  await s.regauth.reload();

  const image = await buildOciImage(join(s.tmp.dir, 'image'), 'v1');
  for (const repo of REPOSITORIES) {
    const pushed = await push(image.ref, s.registry.host, repo, 'v1', {
      user: 'admin',
      password: passwords.admin,
    });
    expect(pushed.code, `${repo}: ${pushed.stderr}`).toBe(0);
  }
}, 180_000);

afterAll(async () => {
  await haproxy?.stop();
  await s?.stop();
});

/** A catalog token as a client gets one: from the challenge's realm, service and scope. */
async function catalogToken(user: User | undefined): Promise<{ token: string; challenge: string }> {
  const first = await fetch(`${haproxy.url}/v2/_catalog`);
  await first.body?.cancel();
  expect(first.status).toBe(401);
  const challenge = first.headers.get('www-authenticate') ?? '';
  const { params } = parseChallenge(challenge);
  const url = `${params['realm']}?service=${encodeURIComponent(params['service']!)}&scope=${encodeURIComponent(params['scope']!)}`;
  const auth = user ? `Basic ${Buffer.from(`${user}:${passwords[user]}`).toString('base64')}` : undefined;
  const res = await fetch(url, { headers: auth ? { authorization: auth } : {} });
  expect(res.status).toBe(200);
  return { token: ((await res.json()) as { token: string }).token, challenge };
}

/** Every page of the catalog through HAProxy, following Link as crane and regctl do. */
async function listAll(token: string, n?: number): Promise<{ repositories: string[]; pages: number }> {
  const repositories: string[] = [];
  let next: string | undefined = n === undefined ? '/v2/_catalog' : `/v2/_catalog?n=${n}`;
  let pages = 0;
  while (next !== undefined) {
    const res = await fetch(`${haproxy.url}${next}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    repositories.push(...((await res.json()) as { repositories: string[] }).repositories);
    next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
    pages++;
  }
  return { repositories, pages };
}

describe('through HAProxy with examples/haproxy.cfg', () => {
  test('the challenge names the catalog service, not the registry one', async () => {
    const { challenge } = await catalogToken(undefined);
    expect(challenge).toBe(
      `Bearer realm="${haproxy.url}/auth",service="regauth-catalog",scope="registry:catalog:*"`,
    );
  });

  const expected: Record<User | 'anonymous', string[]> = {
    admin: REPOSITORIES,
    alice: ['alice/app', 'alice/tools/lint', 'public/base', 'public/tools', 'team/api', 'team/web'],
    bob: ['bob/app', 'public/base', 'public/tools'],
    anonymous: ['public/base', 'public/tools'],
  };

  test.each(['admin', 'alice', 'bob', 'anonymous'] as const)(
    '%s sees exactly its repositories',
    async (who) => {
      const { token } = await catalogToken(who === 'anonymous' ? undefined : who);
      expect(await listAll(token)).toEqual({ repositories: expected[who], pages: 1 });
      const paged = await listAll(token, 2);
      expect(paged.repositories).toEqual(expected[who]);
      expect(paged.pages).toBe(Math.ceil(expected[who].length / 2));
    },
  );

  test('the Link header is the registry form, relative to the path asked', async () => {
    const { token } = await catalogToken('alice');
    const res = await fetch(`${haproxy.url}/v2/_catalog?n=2`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.headers.get('link')).toBe('</v2/_catalog?last=alice%2Ftools%2Flint&n=2>; rel="next"');
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  test('bad n and last get the registry-style 400', async () => {
    const { token } = await catalogToken('alice');
    for (const [query, code] of [
      ['n=-1', 'PAGINATION_NUMBER_INVALID'],
      ['n=51', 'PAGINATION_NUMBER_INVALID'],
      ['n=x', 'PAGINATION_NUMBER_INVALID'],
      ['last=Not%20A%20Name', 'NAME_INVALID'],
    ] as const) {
      const res = await fetch(`${haproxy.url}/v2/_catalog?${query}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { errors: { code: string }[] };
      expect(body.errors.map((e) => e.code)).toEqual([code]);
    }
  });
});

describe('the registry itself', () => {
  test('refuses a catalog token on its own /v2/_catalog, even the admin one', async () => {
    // The admin's registry token does list the catalog at the registry (the test can fail).
    const registryToken = await fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=registry:catalog:*`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${passwords.admin}`).toString('base64')}` },
    }).then(async (r) => ((await r.json()) as { token: string }).token);
    const direct = await fetch(`${s.registry.url}/v2/_catalog`, {
      headers: { authorization: `Bearer ${registryToken}` },
    });
    expect(direct.status).toBe(200);
    expect(((await direct.json()) as { repositories: string[] }).repositories).toEqual(REPOSITORIES);

    for (const user of ['admin', 'alice', undefined] as const) {
      const { token } = await catalogToken(user);
      const res = await fetch(`${s.registry.url}/v2/_catalog`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await res.body?.cancel();
      expect([401, 403], String(user)).toContain(res.status);
      // Nor may it pull with it.
      const manifest = await fetch(`${s.registry.url}/v2/public/base/manifests/v1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await manifest.body?.cancel();
      expect([401, 403]).toContain(manifest.status);
    }
  });
});

describe('a reload', () => {
  test('drops what was cached: a changed ACL shows at once, even within cache_ttl', async () => {
    const before = await listAll((await catalogToken('alice')).token);
    expect(before.repositories).toContain('public/base');
    const withoutPublic = ACL.replace('  - match: {name: "public/*"}\n    actions: [pull]\n', '');
    expect(withoutPublic).not.toBe(ACL);
    s.writeConfig({ config: `${usersSection}${withoutPublic}${catalogSection}` });
    await s.regauth.reload();
    const after = await listAll((await catalogToken('alice')).token);
    expect(after.repositories).toEqual(before.repositories.filter((r) => !r.startsWith('public/')));
  });
});

describe('the registry down', () => {
  test('503 with Retry-After through HAProxy, never 500; regauth keeps serving', async () => {
    const { token } = await catalogToken('alice');
    await s.registry.stop();
    // A reload empties the cache (cache_ttl is 60 s here), so the next request reads the registry.
    await s.regauth.reload();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${haproxy.url}/v2/_catalog`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await res.json()).toEqual({ errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }] });
    }
    expect((await fetch(`${s.regauth.url}/healthz`)).status).toBe(200);
    expect(s.logs.join('')).toContain('catalog unavailable');
    expect(s.logs.join('')).not.toContain(token);
  });
});
