import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SigningAlg } from '../../src/token/types.js';
import { hash, randomPassword } from '../helpers/fixtures.js';
import { buildOciImage } from './harness/oci.js';
import { deleteImage, inspect, listTags, push } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack } from './harness/stack.js';

type Setup = Stack & { passwords: Record<'admin' | 'alice' | 'bob', string> };

/** regauth from a real config file, and the real registry trusting its certificate. */
async function setUp(alg: SigningAlg, tokenOptions = ''): Promise<Setup> {
  const passwords = { admin: randomPassword(), alice: randomPassword(), bob: randomPassword() };
  const stack = await startStack({
    name: 'core',
    issuer: 'regauth e2e',
    alg,
    token: `  expiration: 300
${tokenOptions}`,
    config: `users:
  admin:
    password: "${hash(passwords.admin)}"
    labels: {group: [admins]}
  alice:
    password: "${hash(passwords.alice)}"
  bob:
    password: "${hash(passwords.bob)}"
  "": {}
acl:
  - match: {labels: {group: admins}}
    actions: ["*"]
    comment: admins
  - match: {account: bob, name: "bob-deletes/*"}
    actions: [pull, push, delete]
    comment: delete named, not "*"
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
    comment: own namespace
  - match: {account: "/.+/", name: "common/*"}
    actions: [pull]
    comment: shared pull
  - match: {name: "public/*"}
    actions: [pull]
    comment: public
`,
    deleteEnabled: true,
  });
  return { ...stack, passwords };
}

async function token(s: Setup, user: string, password: string, scope: string): Promise<string> {
  const res = await fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=${encodeURIComponent(scope)}`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

describe('ES256 with x5c: the full flow against docker-registry and skopeo', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp('ES256');
  });
  afterAll(() => s?.stop());

  const creds = (user: 'admin' | 'alice' | 'bob') => ({ user, password: s.passwords[user] });

  test('push to one own namespace, then pull it back', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-alice'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'alice/app', 'v1', creds('alice'));
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const seen = await inspect(s.registry.host, 'alice/app', 'v1', creds('alice'));
    expect(seen.code).toBe(0);
    expect(seen.digest).toBe(image.digest);
  });

  test('a push to another namespace is denied', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-bob'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'alice/other', 'v1', creds('bob'));
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/denied|unauthorized|authentication required/i);
  });

  test('a pull allowed by a rule, and a push the same rule does not allow', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-shared'), 'v1');
    expect((await push(image.ref, s.registry.host, 'common/base', 'v1', creds('admin'))).code).toBe(0);
    const pulled = await inspect(s.registry.host, 'common/base', 'v1', creds('bob'));
    expect(pulled.code).toBe(0);
    expect(pulled.digest).toBe(image.digest);
    const other = await buildOciImage(join(s.tmp.dir, 'img-shared2'), 'v2');
    expect((await push(other.ref, s.registry.host, 'common/base', 'v2', creds('bob'))).code).not.toBe(0);
  });

  test('anonymous pull of a public repository, and denial of a private one', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-public'), 'v1');
    expect((await push(image.ref, s.registry.host, 'public/hello', 'v1', creds('admin'))).code).toBe(0);
    const anonymous = await inspect(s.registry.host, 'public/hello', 'v1');
    expect(anonymous.code).toBe(0);
    expect(anonymous.digest).toBe(image.digest);
    expect((await listTags(s.registry.host, 'public/hello')).tags).toEqual(['v1']);
    const privateRepo = await inspect(s.registry.host, 'common/base', 'v1');
    expect(privateRepo.code).not.toBe(0);
  });

  test('a wrong password is refused', async () => {
    const result = await inspect(s.registry.host, 'common/base', 'v1', { user: 'alice', password: 'wrong' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/401|unauthorized|authentication/i);
  });

  test('the catalog for an admin only', async () => {
    const adminToken = await token(s, 'admin', s.passwords.admin, 'registry:catalog:*');
    const ok = await fetch(`${s.registry.url}/v2/_catalog`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(ok.status).toBe(200);
    const catalog = (await ok.json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(
      expect.arrayContaining(['alice/app', 'common/base', 'public/hello']),
    );

    const aliceToken = await token(s, 'alice', s.passwords.alice, 'registry:catalog:*');
    const denied = await fetch(`${s.registry.url}/v2/_catalog`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  test('a delete by the namespace owner', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-del'), 'gone');
    expect((await push(image.ref, s.registry.host, 'alice/app', 'gone', creds('alice'))).code).toBe(0);
    const deleted = await deleteImage(s.registry.host, 'alice/app', 'gone', creds('alice'));
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect((await inspect(s.registry.host, 'alice/app', 'gone', creds('alice'))).code).not.toBe(0);
    // bob may not delete alice's images
    expect((await deleteImage(s.registry.host, 'alice/app', 'v1', creds('bob'))).code).not.toBe(0);
  });

  test('a delete granted as [pull, push, delete] rather than "*": skopeo asks for *, then for delete', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img-del-named'), 'gone');
    expect((await push(image.ref, s.registry.host, 'bob-deletes/app', 'gone', creds('bob'))).code).toBe(0);
    const deleted = await deleteImage(s.registry.host, 'bob-deletes/app', 'gone', creds('bob'));
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect((await inspect(s.registry.host, 'bob-deletes/app', 'gone', creds('bob'))).code).not.toBe(0);
    // What skopeo asked for, as the audit log shows: the `*` scope first, then delete by name.
    const requested = s.logs
      .join('')
      .split('\n')
      .filter((l) => l.includes('bob-deletes/app'))
      .flatMap((l) => (JSON.parse(l) as { requested?: string[] }).requested ?? []);
    expect(requested.some((r) => r.startsWith('repository:bob-deletes/app:') && r.includes('delete'))).toBe(
      true,
    );
  });

  test('a token from the POST password grant is accepted by the registry', async () => {
    const res = await fetch(`${s.regauth.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: 'alice',
        password: s.passwords.alice,
        service: SERVICE,
        client_id: 'containerd-client',
        scope: 'repository:alice/app:pull',
      }).toString(),
    });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const tags = await fetch(`${s.registry.url}/v2/alice/app/tags/list`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(tags.status).toBe(200);
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['v1']);
  });

  test('a token for another service is refused by the registry', async () => {
    const res = await fetch(`${s.regauth.url}/auth?service=other&scope=repository:alice/app:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`alice:${s.passwords.alice}`).toString('base64')}` },
    });
    const { token: t } = (await res.json()) as { token: string };
    const tags = await fetch(`${s.registry.url}/v2/alice/app/tags/list`, {
      headers: { authorization: `Bearer ${t}` },
    });
    expect(tags.status).toBe(401);
  });

  test('no password or token in regauth logs', () => {
    const all = s.logs.join('');
    expect(all).toContain('token issued');
    for (const p of Object.values(s.passwords)) expect(all).not.toContain(p);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}/);
  });
});

describe.each([
  ['RS256', ''],
  ['ES384', ''],
  ['RS256 without x5c (kid lookup)', '  x5c: false'],
  ['ES256 without x5c (kid lookup)', '  x5c: false'],
] as const)('%s: push and pull', (name, tokenOptions) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setUp(name.split(' ')[0] as SigningAlg, tokenOptions);
  });
  afterAll(() => s?.stop());

  test('push and pull back', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img'), 'v1');
    const creds = { user: 'alice', password: s.passwords.alice };
    const pushed = await push(image.ref, s.registry.host, 'alice/app', 'v1', creds);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect((await inspect(s.registry.host, 'alice/app', 'v1', creds)).digest).toBe(image.digest);
  });
});
