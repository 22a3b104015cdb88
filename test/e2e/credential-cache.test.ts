import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bcryptPoolVerifier } from '../../src/authn/bcrypt-pool.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import { createLogger } from '../../src/log.js';
import { startService, type Service } from '../../src/service.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { buildOciImage } from './harness/oci.js';
import { startRegistry, type Registry } from './harness/registry.js';
import { inspect, push } from './harness/skopeo.js';

const SERVICE = 'registry.test';
const ISSUER = 'regauth cache e2e';

/** The real pool verifier, counting the comparisons it is asked for. */
function countingVerifier(): PasswordVerifier & { comparisons: number; close(): Promise<void> } {
  const pool = bcryptPoolVerifier(4);
  const counting = {
    comparisons: 0,
    verify: (password: Parameters<PasswordVerifier['verify']>[0], stored: string) => {
      counting.comparisons += 1;
      return pool.verify(password, stored);
    },
    burn: pool.burn,
    close: pool.close,
  };
  return counting;
}

describe('credential cache and bcrypt pool against docker-registry and skopeo', () => {
  const tmp = tempDir('regauth-e2e-cache-');
  const password = randomPassword();
  const verifier = countingVerifier();
  let configFile: string;
  let certPath: string;
  let regauth: Service;
  let registry: Registry;

  const writeConfig = (alicePassword: string) =>
    writeFileSync(
      configFile,
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: "${ISSUER}"\n  key: ${join(tmp.dir, 'token-ES256.key')}\n  certificate: ${certPath}\nusers:\n  alice:\n    password: "${hash(alicePassword)}"\nacl:\n  - match: {account: "/.+/", name: "\${account}/**"}\n    actions: ["*"]\ncredential_cache:\n  ttl: 5m\n  max_entries: 100\n`,
    );

  beforeAll(async () => {
    ({ certPath } = await writeSigningKey(tmp.dir));
    configFile = join(tmp.dir, 'config.yml');
    writeConfig(password);
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    regauth = await startService({
      configFile,
      logger: createLogger({ destination: sink }),
      dataDir: join(tmp.dir, 'data'),
      runtimeDeps: { verifier },
    });
    registry = await startRegistry({
      realm: `${regauth.url}/auth`,
      service: SERVICE,
      issuer: ISSUER,
      rootCertBundlePath: certPath,
    });
  });
  afterAll(async () => {
    await registry?.stop();
    await regauth?.close(100);
    await verifier.close();
    tmp.cleanup();
  });

  test('a push and a pull with the same credentials cost one bcrypt comparison', async () => {
    const image = await buildOciImage(join(tmp.dir, 'img'), 'v1');
    const pushed = await push(image.ref, registry.host, 'alice/app', 'v1', { user: 'alice', password });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const seen = await inspect(registry.host, 'alice/app', 'v1', { user: 'alice', password });
    expect(seen.code).toBe(0);
    expect(seen.digest).toBe(image.digest);
    expect(verifier.comparisons).toBe(1);
  });

  test('a wrong password is still refused after a cached success', async () => {
    const seen = await inspect(registry.host, 'alice/app', 'v1', { user: 'alice', password: `${password}x` });
    expect(seen.code).not.toBe(0);
  });

  test('after a reload that changes the password, the old one no longer works', async () => {
    const next = randomPassword();
    writeConfig(next);
    await regauth.reload();
    const old = await inspect(registry.host, 'alice/app', 'v1', { user: 'alice', password });
    expect(old.code).not.toBe(0);
    const seen = await inspect(registry.host, 'alice/app', 'v1', { user: 'alice', password: next });
    expect(seen.code).toBe(0);
  });
});
