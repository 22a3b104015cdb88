import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { signAccessToken } from '../../src/token/sign.js';
import type { SigningKey } from '../../src/token/types.js';
import { keysActivate, keysInit, keysRotate, type KeyFiles } from '../../src/tools/keys.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { buildOciImage, type OciImage } from './harness/oci.js';
import { registryPlace, serveRegistry, startRegistry, type Registry } from './harness/registry.js';
import { inspect, push } from './harness/skopeo.js';
import { startRegauth, type RegauthStack } from './harness/stack.js';

const SERVICE = 'registry.test';
const ISSUER = 'regauth keys e2e';

/**
 * `regauth keys init` then `keys rotate`: the real registry, given the rotated bundle, accepts
 * tokens from the current key and the next one (x5c and kid-only alike), and nothing else.
 */
describe('keys rotate: the registry trusts the current and the next key during the overlap', () => {
  const tmp = tempDir('regauth-e2e-keys-');
  let registry: Registry;
  let files: KeyFiles;

  const load = (keyFile: string, certFile: string, x5c: boolean): SigningKey =>
    loadSigningKey({
      keyPem: readFileSync(keyFile, 'utf8'),
      certPem: readFileSync(certFile, 'utf8'),
      x5c,
      kidFormat: 'libtrust',
    });

  beforeAll(async () => {
    await keysInit(join(tmp.dir, 'keys'));
    files = await keysRotate(join(tmp.dir, 'keys'));
    registry = await startRegistry({
      realm: 'http://127.0.0.1:9/auth',
      service: SERVICE,
      issuer: ISSUER,
      rootCertBundlePath: files.bundle,
    });
  });
  afterAll(async () => {
    await registry?.stop();
    tmp.cleanup();
  });

  async function catalogStatus(key: SigningKey): Promise<number> {
    const token = await signAccessToken(
      key,
      { subject: 'ops', audience: SERVICE, access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] },
      { issuer: ISSUER, expiresInSeconds: 300, now: Math.floor(Date.now() / 1000) },
    );
    const res = await fetch(`${registry.url}/v2/_catalog`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  }

  test.each([
    ['the next key, x5c', () => load(files.nextKey, files.nextCertificate, true)],
    ['the next key, kid only', () => load(files.nextKey, files.nextCertificate, false)],
    ['the current key, x5c', () => load(files.key, files.certificate, true)],
    ['the current key, kid only', () => load(files.key, files.certificate, false)],
  ])('a token signed by %s is accepted', async (_name, key) => {
    expect(await catalogStatus(key())).toBe(200);
  });

  test('a token signed by a key outside the bundle is refused', async () => {
    const other = await generateSigningMaterial({ alg: 'ES256', commonName: 'stranger', validDays: 2 });
    const key = loadSigningKey({
      keyPem: other.keyPem,
      certPem: other.certPem,
      x5c: true,
      kidFormat: 'libtrust',
    });
    expect(await catalogStatus(key)).toBe(401);
  });
});

/**
 * Staged rotation against the real registry: `keys rotate` adds a next key that regauth does not
 * sign with yet; the registry is restarted with the new bundle; `keys activate` switches signing.
 * Pulls keep working throughout, and tokens issued before activation stay valid.
 */
describe('keys rotate, registry restart, keys activate: no request fails', () => {
  const tmp = tempDir('regauth-e2e-rotation-');
  const password = randomPassword();
  const keyDir = join(tmp.dir, 'keys');
  let files: KeyFiles;
  let stack: RegauthStack;
  let registry: RestartableRegistry;
  let image: OciImage;
  const creds = () => ({ user: 'alice', password });

  beforeAll(async () => {
    files = await keysInit(keyDir);
    stack = await startRegauth({
      name: 'rotation',
      keys: { keyPath: files.key, certPath: files.certificate, bundlePath: files.bundle },
      tmp,
      token: '  expiration: 300',
      config: `users:
  alice:
    password: "${hash(password)}"
acl:
  - match: {account: alice, name: "alice/**"}
    actions: ["*"]
`,
    });
    registry = await restartableRegistry(tmp.dir, {
      realm: `${stack.regauth.url}/auth`,
      issuer: stack.issuer,
      bundle: files.bundle,
    });
    image = await buildOciImage(join(tmp.dir, 'img'), 'v1');
    expect((await push(image.ref, registry.host, 'alice/app', 'v1', creds())).code).toBe(0);
  });
  afterAll(async () => {
    await registry?.stop();
    await stack?.stop();
    tmp.cleanup();
  });

  const kidOf = (token: string) =>
    (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
  const libtrustKid = (keyFile: string, certFile: string) =>
    loadSigningKey({
      keyPem: readFileSync(keyFile, 'utf8'),
      certPem: readFileSync(certFile, 'utf8'),
      x5c: false,
      kidFormat: 'libtrust',
    }).libtrustKid;

  async function issue(): Promise<string> {
    const res = await fetch(
      `${stack.regauth.url}/auth?service=${SERVICE}&scope=${encodeURIComponent('repository:alice/app:pull')}`,
      { headers: { authorization: basic('alice', password) } },
    );
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  }
  async function manifestStatus(token: string): Promise<number> {
    const res = await fetch(`${registry.url}/v2/alice/app/manifests/v1`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    await res.arrayBuffer();
    return res.status;
  }
  async function pullWorks(): Promise<void> {
    const seen = await inspect(registry.host, 'alice/app', 'v1', creds());
    expect(seen.code, seen.stderr).toBe(0);
    expect(seen.digest).toBe(image.digest);
  }

  test('every step keeps pulls working; old tokens stay valid after activation', async () => {
    const oldKid = libtrustKid(files.key, files.certificate);
    // A client that keeps fetching tokens and manifests, except while the registry restarts.
    const failures: string[] = [];
    let running = true;
    let paused = false;
    let requests = 0;
    // The client's request under way, which a restart waits for: a restart that cut it off
    // would fail it for the restart's sake, not the rotation's.
    let inFlight: Promise<void> = Promise.resolve();
    const loop = (async () => {
      while (running) {
        if (!paused) {
          inFlight = (async () => {
            const token = await issue();
            const status = await manifestStatus(token);
            requests++;
            if (status !== 200) failures.push(`kid ${kidOf(token)}: ${status}`);
          })();
          await inFlight;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const restart = async () => {
      paused = true;
      await inFlight.catch(() => undefined);
      await registry.restart();
      paused = false;
    };
    try {
      const rotated = await keysRotate(keyDir);
      const nextKid = libtrustKid(rotated.nextKey, rotated.nextCertificate);
      expect(nextKid).not.toBe(oldKid);
      // Longer than the watcher's quiet time: had regauth reloaded a new key, it would sign with it now.
      await new Promise((r) => setTimeout(r, 1500));
      expect(kidOf(await issue())).toBe(oldKid);
      await pullWorks();

      // The registry now trusts the bundle with both certificates.
      await restart();
      await pullWorks();
      const before = await issue();
      expect(kidOf(before)).toBe(oldKid);

      await keysActivate(keyDir);
      const deadline = Date.now() + 15_000;
      while (kidOf(await issue()) !== nextKid) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 100));
      }
      await pullWorks();
      expect(await manifestStatus(before)).toBe(200);

      // Restarted with the bundle `activate` left: the old certificate is still in it.
      await restart();
      await pullWorks();
      expect(await manifestStatus(before)).toBe(200);
      expect(await manifestStatus(await issue())).toBe(200);
    } finally {
      running = false;
      await loop;
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(10);
  }, 120_000);
});

interface RestartableRegistry {
  readonly url: string;
  readonly host: string;
  /** Stops the registry and starts it again on the same port and storage (it rereads its bundle). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** docker-registry on a fixed port with storage and config that survive a restart, as in production. */
async function restartableRegistry(
  dir: string,
  options: { realm: string; issuer: string; bundle: string },
): Promise<RestartableRegistry> {
  const { dir: placeDir, host } = await registryPlace();
  const configPath = join(dir, 'registry.yml');
  writeFileSync(
    configPath,
    dump({
      version: '0.1',
      log: { level: 'info', formatter: 'text' },
      storage: {
        filesystem: { rootdirectory: join(dir, 'registry-data') },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: host, secret: randomBytes(16).toString('hex') },
      auth: {
        token: {
          realm: options.realm,
          service: SERVICE,
          issuer: options.issuer,
          rootcertbundle: options.bundle,
        },
      },
    }),
  );
  // serveRegistry removes the dir it is given when it stops: a scratch dir each time.
  const serve = async (scratch: string) => serveRegistry({ dir: scratch, host, configPath });
  let current = await serve(placeDir);
  return {
    url: `http://${host}`,
    host,
    async restart() {
      await current.stop();
      current = await serve(mkdtempSync(join(dir, 'scratch-')));
    },
    stop: () => current.stop(),
  };
}
