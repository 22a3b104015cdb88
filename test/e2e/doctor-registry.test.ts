import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { createRuntime, closeRuntime } from '../../src/pipeline/runtime.js';
import { diagnose, readRegistryConfig } from '../../src/tools/doctor.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { tempDir } from '../helpers/fixtures.js';
import { startRegistry, type Registry } from './harness/registry.js';

const SERVICE = 'registry.test';
const ISSUER = 'doctor-test';

/**
 * doctor's verdict against what the real docker-registry 2.8.2 does with a token signed as the
 * config says: for each way of naming the key (x5c chain or kid alone, libtrust or thumbprint
 * kid), and for a key the registry does not trust. doctor must never say "trusts" for a token
 * the registry refuses.
 */
const tmp = tempDir('regauth-doctor-registry-');
let registry: Registry;
let trusted: { keyPath: string; certPath: string };
let other: { keyPath: string; certPath: string };

/** A key and a certificate valid for a year (doctor flags certificates about to expire). */
async function writeKey(name: string, alg: 'ES256' | 'RS256') {
  const { keyPem, certPem } = await generateSigningMaterial({ alg, commonName: name, validDays: 365 });
  const keyPath = join(tmp.dir, `${name}.key`);
  const certPath = join(tmp.dir, `${name}.pem`);
  writeFileSync(keyPath, keyPem, { mode: 0o600 });
  writeFileSync(certPath, certPem);
  return { keyPath, certPath };
}

beforeAll(async () => {
  trusted = await writeKey('trusted', 'ES256');
  other = await writeKey('other', 'RS256');
  registry = await startRegistry({
    realm: 'http://127.0.0.1:9/auth',
    service: SERVICE,
    issuer: ISSUER,
    rootCertBundlePath: trusted.certPath,
  });
  writeFileSync(
    join(tmp.dir, 'registry.yml'),
    `auth:\n  token:\n    realm: http://127.0.0.1:9/auth\n    service: ${SERVICE}\n    issuer: ${ISSUER}\n    rootcertbundle: ${trusted.certPath}\n`,
  );
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  tmp.cleanup();
});

describe('doctor against registry 2.8.2', () => {
  test.each([
    ['x5c chain, libtrust kid', 'trusted', true, false],
    ['x5c chain, thumbprint kid', 'trusted', true, true],
    ['kid only, libtrust', 'trusted', false, false],
    ['kid only, thumbprint (disable_legacy_key_id)', 'trusted', false, true],
    ['a key the bundle does not hold', 'other', false, false],
    ['a key the bundle does not hold, with x5c', 'other', true, false],
  ] as const)(
    '%s: doctor says the registry trusts regauth exactly when it accepts a token',
    async (_name, which, x5c, thumbprint) => {
      const key = which === 'trusted' ? trusted : other;
      const file = join(tmp.dir, `regauth-${which}-${x5c}-${thumbprint}.yml`);
      writeFileSync(
        file,
        `token:\n  issuer: ${ISSUER}\n  key: ${key.keyPath}\n  certificate: ${key.certPath}\n  x5c: ${x5c}\n  disable_legacy_key_id: ${thumbprint}\n  services: [${SERVICE}]\nacl: []\n`,
      );
      const config = loadConfigFile(file);
      const checks = diagnose(config, readRegistryConfig(join(tmp.dir, 'registry.yml')));
      // The realm points where nothing listens: that is not what this test compares.
      const trustVerdict = checks.filter((c) => c.name !== 'realm').every((c) => c.ok);

      const runtime = createRuntime(config);
      try {
        const now = Math.floor(Date.now() / 1000);
        const token = await runtime.sign({ subject: 'alice', audience: SERVICE, access: [] }, now, 300);
        const res = await fetch(`${registry.url}/v2/`, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        const accepted = res.status === 200;
        expect({ doctorSaysTrusted: trustVerdict, checks }).toEqual({
          doctorSaysTrusted: accepted,
          checks: expect.any(Array),
        });
      } finally {
        await closeRuntime(runtime);
      }
    },
  );

  test('the realm line says what was checked: the path, not that clients reach it', () => {
    const file = join(tmp.dir, 'regauth-realm.yml');
    writeFileSync(
      file,
      `token:\n  issuer: ${ISSUER}\n  key: ${trusted.keyPath}\n  certificate: ${trusted.certPath}\n  services: [${SERVICE}]\nacl: []\n`,
    );
    const realm = diagnose(loadConfigFile(file), readRegistryConfig(join(tmp.dir, 'registry.yml'))).find(
      (c) => c.name === 'realm',
    );
    expect(realm).toEqual({
      name: 'realm',
      ok: true,
      message:
        "the path of http://127.0.0.1:9/auth is regauth's token endpoint (not probed; `doctor --probe` asks it)",
    });
  });
});
