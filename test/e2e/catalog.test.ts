import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
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

/** Pushes an image whose config has `labels`, through the registry's HTTP API, as admin. */
async function pushLabelledImage(
  repo: string,
  tag: string,
  labels: Record<string, string>,
): Promise<{ digest: string; size: number }> {
  const res = await fetch(
    `${s.regauth.url}/auth?service=${SERVICE}&scope=${encodeURIComponent(`repository:${repo}:pull,push`)}`,
    { headers: { authorization: `Basic ${Buffer.from(`admin:${passwords.admin}`).toString('base64')}` } },
  );
  const { token } = (await res.json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const upload = async (blob: Buffer): Promise<string> => {
    const digest = sha(blob);
    const started = await fetch(`${s.registry.url}/v2/${repo}/blobs/uploads/`, {
      method: 'POST',
      headers: auth,
    });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, s.registry.url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: blob,
    });
    expect(put.status).toBe(201);
    return digest;
  };
  const tar = Buffer.alloc(1024);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      created: '2026-11-22T10:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: labels },
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: await upload(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: await upload(layer),
          size: layer.length,
        },
      ],
    }),
  );
  const put = await fetch(`${s.registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  expect(put.status).toBe(201);
  return { digest: sha(manifest), size: config.length + layer.length };
}

describe('the registry page /ui/ in Chromium, through HAProxy', () => {
  const HOSTILE = '<script>alert(1)</script> & "quoted" <b>bold</b>';

  test('sign in, list, open a repository and a tag, copy the pull line; text escaped', async () => {
    const { digest, size } = await pushLabelledImage('public/labelled', 'v1', {
      'org.example.note': HOSTILE,
    });
    // The catalog is cached for 60 s here; a reload starts afresh, so the new repository shows.
    await s.regauth.reload();
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const context = await browser.newContext({
        httpCredentials: { username: 'alice', password: passwords.alice },
        viewport: { width: 900, height: 640 },
      });
      const page = await context.newPage();
      const scripts: string[] = [];
      page.on('console', (m) => scripts.push(m.text()));
      page.on('dialog', (d) => {
        scripts.push(d.message());
        void d.dismiss();
      });

      const first = await page.goto(`${haproxy.url}/ui/`);
      expect(first?.status()).toBe(200);
      expect(first?.headers()['content-security-policy']).toMatch(/default-src 'none'/);
      expect(await page.textContent('#account')).toBe('alice');
      expect(await page.locator('#repositories li').allTextContents()).toEqual([
        'alice/app',
        'alice/tools/lint',
        'public/base',
        'public/labelled',
        'public/tools',
        'team/api',
        'team/web',
      ]);

      await page.click('text=public/labelled');
      expect(await page.textContent('#repository')).toBe('public/labelled');
      expect(await page.locator('#tags li').allTextContents()).toEqual(['v1']);

      await page.click('#tags >> text=v1');
      expect(await page.textContent('#tag')).toBe('public/labelled:v1');
      expect(await page.textContent('#digest')).toBe(digest);
      expect(await page.textContent('#media-type')).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(await page.textContent('#platforms')).toBe('linux/amd64');
      expect(await page.textContent('#created')).toBe('2026-11-22T10:00:00Z');
      expect(await page.textContent('#size')).toBe(`${size} B`);
      expect(await page.textContent('#pull')).toBe(`docker pull ${haproxy.host}/public/labelled:v1`);
      // The label shows as text: no element made of it, no script run.
      expect(await page.textContent('#labels td')).toBe(HOSTILE);
      expect(await page.locator('script').count()).toBe(0);
      expect(await page.locator('#labels b').count()).toBe(0);
      expect(scripts).toEqual([]);

      // The screenshot in docs/catalog.md: rewritten only when asked (UPDATE_SCREENSHOTS=1), so a
      // test run leaves the repository as it was.
      const shot = process.env['UPDATE_SCREENSHOTS'] === '1' ? join(REPO_ROOT, 'docs/images') : s.tmp.dir;
      mkdirSync(shot, { recursive: true });
      const png = await page.screenshot({ path: join(shot, 'catalog-ui.png') });
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await browser.close();
    }
  }, 60_000);

  test('no credentials: the Basic prompt; no access: 404 as for no repository; bad names: 400', async () => {
    const none = await fetch(`${haproxy.url}/ui/`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(none.headers.get('content-type')).toBe('text/html; charset=utf-8');

    const alice = { authorization: `Basic ${Buffer.from(`alice:${passwords.alice}`).toString('base64')}` };
    const wrong = await fetch(`${haproxy.url}/ui/`, {
      headers: { authorization: `Basic ${Buffer.from('alice:wrong').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    for (const path of [
      '/ui/repository?name=bob/app',
      '/ui/repository?name=secret/keys',
      '/ui/tag?name=bob/app&tag=v1',
    ]) {
      const res = await fetch(`${haproxy.url}${path}`, { headers: alice });
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain('bob/app:v1');
    }
    const missing = await fetch(`${haproxy.url}/ui/repository?name=nothing/here`, { headers: alice });
    expect(missing.status).toBe(404);
    for (const path of [
      '/ui/repository?name=%3Cb%3E',
      '/ui/tag?name=public/base&tag=%3Cb%3E',
      '/ui/?last=%3Cb%3E',
    ]) {
      const res = await fetch(`${haproxy.url}${path}`, { headers: alice });
      expect(res.status, path).toBe(400);
      expect(await res.text()).not.toContain('<b>');
    }
    const post = await fetch(`${haproxy.url}/ui/`, { method: 'POST', headers: alice });
    expect(post.status).toBe(404);
    const logged = s.logs.filter((l) => l.includes('"registry page"'));
    expect(logged.some((l) => l.includes('"account":"alice"') && l.includes('"status":404'))).toBe(true);
    expect(s.logs.join('')).not.toContain(passwords.alice);
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
