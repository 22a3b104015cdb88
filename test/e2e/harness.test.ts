import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { selfSignedCert } from './harness/certs.js';
import type { KeyPair } from './harness/certs.js';
import { buildOciImage } from './harness/oci.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/proc.js';
import { registryChallenge, startRegistry } from './harness/registry.js';
import type { Registry } from './harness/registry.js';
import { deleteImage, inspect, listTags, pull, push, skopeo, writeAuthFile } from './harness/skopeo.js';

// These tests check the harness itself, without regauth: the real registry and skopeo, and
// where a token is needed, a stub token endpoint that grants whatever is asked.

const SERVICE = 'registry.test';
const ISSUER = 'harness-test';
let work: string;
let keys: KeyPair;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'regauth-harness-'));
  keys = await selfSignedCert(work);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('registry with an unreachable realm', () => {
  const REALM = 'http://127.0.0.1:1/auth';
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry({
      realm: REALM,
      service: SERVICE,
      issuer: ISSUER,
      rootCertBundlePath: keys.certPath,
    });
  });
  afterAll(() => registry?.stop());
  beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(registry.logs())));

  test('GET /v2/ is challenged without a scope (§1.1)', async () => {
    const challenge = await registryChallenge(registry.url, '/v2/');
    expect(challenge.status).toBe(401);
    expect(challenge.header).toBe(`Bearer realm="${REALM}",service="${SERVICE}"`);
    expect(challenge.params).toEqual({ realm: REALM, service: SERVICE });
  });

  test('a repository GET is challenged with its pull scope (§1.2)', async () => {
    const challenge = await registryChallenge(registry.url, '/v2/foo/bar/tags/list');
    expect(challenge.status).toBe(401);
    expect(challenge.scheme).toBe('Bearer');
    expect(challenge.params).toEqual({ realm: REALM, service: SERVICE, scope: 'repository:foo/bar:pull' });
  });

  test('a local OCI image inspects, but cannot be pushed without a token', async () => {
    const image = await buildOciImage(join(work, 'layout'), 'v1');
    const local = await skopeo(['inspect', image.ref]);
    expect(local.code, local.stderr).toBe(0);
    expect((JSON.parse(local.stdout) as { Digest: string }).Digest).toBe(image.digest);

    const pushed = await push(image.ref, registry.host, 'foo/bar', 'v1');
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toContain('127.0.0.1:1');
  });
});

describe('failures are reported with their reason', () => {
  test('waitFor names what it waited for and the last error', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('not yet');
        },
        200,
        'the moon',
      ),
    ).rejects.toThrow('timed out after 200 ms waiting for the moon; last error: Error: not yet');
  });

  // registry 2.8 panics (exit code 2) when it cannot read the bundle.
  test('a registry that cannot start rejects at once, with its log', async () => {
    const started = Date.now();
    const bad = startRegistry({
      realm: 'http://127.0.0.1:1/auth',
      service: SERVICE,
      issuer: ISSUER,
      rootCertBundlePath: join(work, 'missing.pem'),
    });
    await expect(bad).rejects.toThrow(
      /docker-registry exited \(code \d+\) before it was ready[^]*missing\.pem/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('skopeo helpers against a stub token endpoint', () => {
  let registry: Registry;
  let tokenServer: Server;
  let tokenUrl: string;
  // What each token request carried: its query and the decoded Basic credentials.
  const asked: { query: URLSearchParams; basic: string | undefined }[] = [];

  beforeAll(async () => {
    const key = await importPKCS8(await readFile(keys.keyPath, 'utf8'), 'ES256');
    const certDer = (await readFile(keys.certPath, 'utf8')).replace(/-----[^-]+-----|\s/g, '');
    const port = await freePort();
    tokenServer = createServer((req, res) => {
      const query = new URL(req.url ?? '/', 'http://stub').searchParams;
      const basic = /^Basic (.*)$/.exec(req.headers.authorization ?? '')?.[1];
      asked.push({ query, basic: basic === undefined ? undefined : Buffer.from(basic, 'base64').toString() });
      // Grant every requested scope in full (docs/http-api.md "Scopes": `type:name:actions`, the
      // name may hold ':').
      const access = query.getAll('scope').flatMap((s) =>
        s
          .split(' ')
          .filter(Boolean)
          .map((one) => {
            const type = one.slice(0, one.indexOf(':'));
            const name = one.slice(one.indexOf(':') + 1, one.lastIndexOf(':'));
            return { type, name, actions: one.slice(one.lastIndexOf(':') + 1).split(',') };
          }),
      );
      void new SignJWT({ access })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [certDer] })
        .setIssuer(ISSUER)
        .setAudience(SERVICE)
        .setSubject('stub')
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime('5m')
        .sign(key)
        .then((token) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
        });
    });
    await new Promise<void>((resolve) => tokenServer.listen(port, '127.0.0.1', resolve));
    tokenUrl = `http://127.0.0.1:${port}/token`;
    registry = await startRegistry({
      realm: tokenUrl,
      service: SERVICE,
      issuer: ISSUER,
      rootCertBundlePath: keys.certPath,
      deleteEnabled: true,
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await new Promise((resolve) => tokenServer?.close(resolve));
  });
  beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(registry.logs())));

  test('push, inspect, list-tags, pull and delete round-trip an image', async () => {
    const image = await buildOciImage(join(work, 'stub-layout'), 'v1');
    const creds = { user: 'alice', password: 'pw:with:colons' };

    const pushed = await push(image.ref, registry.host, 'team/app', 'v1', creds);
    expect(pushed.code, pushed.stderr).toBe(0);

    const inspected = await inspect(registry.host, 'team/app', 'v1', creds);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.digest).toBe(image.digest);

    const tags = await listTags(registry.host, 'team/app', creds);
    expect(tags.tags).toEqual(['v1']);

    const pulled = await pull(registry.host, 'team/app', 'v1', join(work, 'pulled'), creds);
    expect(pulled.code, pulled.stderr).toBe(0);

    const deleted = await deleteImage(registry.host, 'team/app', 'v1', creds);
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await inspect(registry.host, 'team/app', 'v1', creds);
    expect(gone.code).not.toBe(0);

    expect(asked.length).toBeGreaterThan(0);
    for (const { query, basic } of asked) {
      expect(query.get('service')).toBe(SERVICE);
      expect(basic).toBe('alice:pw:with:colons');
    }
  });

  test('credentials can come from an auth.json', async () => {
    const image = await buildOciImage(join(work, 'stub-layout'), 'v2');
    const authFile = join(work, 'auth.json');
    await writeAuthFile(authFile, registry.host, { user: 'bob', password: 'secret' });
    asked.length = 0;

    const pushed = await push(image.ref, registry.host, 'team/app', 'v2', { authFile });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(asked.map((a) => a.basic)).toEqual(['bob:secret']);
  });

  test('a ready-made bearer token is sent as is', async () => {
    const image = await buildOciImage(join(work, 'stub-layout'), 'v3');
    const pushed = await push(image.ref, registry.host, 'team/app', 'v3', { user: 'carol', password: 'x' });
    expect(pushed.code, pushed.stderr).toBe(0);
    const res = await fetch(`${tokenUrl}?service=${SERVICE}&scope=repository:team/app:pull`);
    const { token } = (await res.json()) as { token: string };
    asked.length = 0;

    const inspected = await inspect(registry.host, 'team/app', 'v3', { registryToken: token });
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(asked).toEqual([]);
  });
});
