import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { signAccessToken } from '../../src/token/sign.js';
import type { SigningKey } from '../../src/token/types.js';
import { keysInit, keysRotate, type KeyFiles } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from './harness/registry.js';

const SERVICE = 'registry.test';
const ISSUER = 'regauth keys e2e';

/**
 * `regauth keys init` then `keys rotate`: the real registry, given the rotated bundle, accepts
 * tokens from the old key and the new one (x5c and kid-only alike), and nothing else.
 */
describe('keys rotate: the registry trusts the old and the new key during the overlap', () => {
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
    ['the new key, x5c', () => load(files.key, files.certificate, true)],
    ['the new key, kid only', () => load(files.key, files.certificate, false)],
    ['the previous key, x5c', () => load(files.previousKey, files.previousCertificate, true)],
    ['the previous key, kid only', () => load(files.previousKey, files.previousCertificate, false)],
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
