import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile, type Config } from '../../src/config/load.js';
import { diagnose, type DoctorCheck, type RegistryToken } from '../../src/tools/doctor.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { keysActivate, keysInit, keysRotate } from '../../src/tools/keys.js';
import { regauth } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-doctor-');
let cert = '';
let otherCert = '';

beforeAll(async () => {
  const own = { keyPath: join(tmp.dir, 'token.key'), certPath: join(tmp.dir, 'token.pem') };
  const material = await generateSigningMaterial({ alg: 'ES256', commonName: 'doctor', validDays: 365 });
  writeFileSync(own.keyPath, material.keyPem, { mode: 0o600 });
  writeFileSync(own.certPath, material.certPem);
  cert = own.certPath;
  otherCert = join(tmp.dir, 'other-token.pem');
  writeFileSync(
    otherCert,
    (await generateSigningMaterial({ alg: 'ES256', commonName: 'other', validDays: 365 })).certPem,
  );
  for (const [name, x5c, legacy] of [
    ['x5c', true, false],
    ['libtrust', false, false],
    ['thumbprint', false, true],
  ] as const) {
    writeFileSync(
      join(tmp.dir, `${name}.yml`),
      `token:\n  issuer: acme\n  key: ${own.keyPath}\n  certificate: ${own.certPath}\n  services: [registry.test]\n  x5c: ${x5c}\n  disable_legacy_key_id: ${legacy}\n`,
    );
  }
});
afterAll(() => tmp.cleanup());

const load = (name: 'x5c' | 'libtrust' | 'thumbprint'): Config =>
  loadConfigFile(join(tmp.dir, `${name}.yml`));

const good: RegistryToken = {
  realm: 'https://r.example.com/auth',
  service: 'registry.test',
  issuer: 'acme',
};

/** `ok name` / `FAIL name: message` for each check, in order. */
function run(config: Config, token: RegistryToken, now?: Date): string[] {
  const checks: DoctorCheck[] = diagnose(config, { token, dir: tmp.dir }, now);
  return checks.map((c) => (c.ok ? `ok ${c.name}` : `FAIL ${c.name}: ${c.message}`));
}

const write = (name: string, text: string) => {
  writeFileSync(join(tmp.dir, name), text);
  return name;
};

describe('diagnose: each check, in order', () => {
  test('all trusted: issuer, service, rootcertbundle, rotation, realm, certificate; jwks only when named', () => {
    const bundle = write('own.pem', readFileSync(cert, 'utf8'));
    expect(run(load('x5c'), { ...good, rootcertbundle: bundle })).toEqual([
      'ok issuer',
      'ok service',
      'ok rootcertbundle',
      'ok rotation',
      'ok realm',
      'ok certificate',
    ]);
    const config = load('thumbprint');
    const jwks = write('jwks.json', JSON.stringify({ keys: [{ kid: config.token.key.kid }] }));
    expect(run(config, { ...good, rootcertbundle: bundle, jwks })).toEqual([
      'ok issuer',
      'ok service',
      'ok rootcertbundle',
      'ok rotation',
      'ok realm',
      'ok certificate',
      'ok jwks',
    ]);
  });

  test('issuer, service and realm that do not match', () => {
    const lines = run(load('x5c'), { realm: 'https://r.example.com/token', service: 'elsewhere' });
    expect(lines).toEqual([
      'FAIL issuer: the registry expects issuer null, regauth signs "acme"',
      'FAIL service: the registry\'s service "elsewhere" is not in token.services (registry.test); regauth answers 400',
      'FAIL rootcertbundle: auth.token.rootcertbundle is not set',
      "FAIL realm: the realm path /token is not regauth's token endpoint (/auth or /auth/token)",
      'ok certificate',
    ]);
    expect(run(load('x5c'), { ...good, service: '', realm: 'not a url' })).toContain(
      'FAIL realm: auth.token.realm "not a url" is not an absolute URL',
    );
    expect(run(load('x5c'), { issuer: 'acme' })).toEqual(
      expect.arrayContaining([
        'FAIL service: auth.token.service is not set in the registry config',
        'FAIL realm: auth.token.realm is not set',
      ]),
    );
  });

  test('a bundle that cannot be read, or is not PEM: one finding, no rotation line', () => {
    const missing = run(load('x5c'), { ...good, rootcertbundle: 'missing.pem' });
    expect(missing).toContain(`FAIL rootcertbundle: cannot read ${join(tmp.dir, 'missing.pem')}: ENOENT`);
    expect(missing.some((l) => l.includes('rotation'))).toBe(false);
    const garbage = write('garbage.pem', '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n');
    // OpenSSL's code for a block that is not a certificate (ERR_OSSL_…).
    const notPem = run(load('x5c'), { ...good, rootcertbundle: garbage });
    expect(notPem).toContainEqual(
      expect.stringMatching(
        new RegExp(`^FAIL rootcertbundle: cannot read ${join(tmp.dir, garbage)}: ERR_OSSL_\\w+$`),
      ),
    );
    expect(notPem.some((l) => l.includes('rotation'))).toBe(false);
  });

  test('a bundle that holds a private key is a finding; the advice never names a file with the key', () => {
    // The registry is given its bundle to read (registry:2 runs as root); one that holds a key
    // hands it the signing key. And with a combined token.certificate (certificate + key), the
    // advice to copy or point at that file did the same.
    const combined = write(
      'combined.pem',
      readFileSync(cert, 'utf8') + readFileSync(join(tmp.dir, 'token.key'), 'utf8'),
    );
    const checks = diagnose(load('x5c'), { token: { ...good, rootcertbundle: combined }, dir: tmp.dir });
    const bundle = checks.find((c) => c.name === 'rootcertbundle');
    expect(bundle?.ok).toBe(false);
    expect(bundle?.message).toBe(
      `${join(tmp.dir, combined)} holds a private key, which the registry (and whoever can read that file) can read`,
    );
    expect(bundle?.fix).toContain(`-----END CERTIFICATE-----/p' ${join(tmp.dir, combined)} >`);

    const dir = join(tmp.dir, 'combined-config');
    mkdirSync(dir);
    writeFileSync(join(dir, 'token.key'), readFileSync(join(tmp.dir, 'token.key'), 'utf8'), { mode: 0o600 });
    writeFileSync(join(dir, 'token.pem'), readFileSync(join(tmp.dir, combined), 'utf8'));
    writeFileSync(join(dir, 'c.yml'), `token: {issuer: acme, key: token.key, certificate: token.pem}\n`);
    const config = loadConfigFile(join(dir, 'c.yml'));
    for (const token of [good, { ...good, rootcertbundle: 'missing.pem' }]) {
      const check = diagnose(config, { token, dir: tmp.dir }).find((c) => c.name === 'rootcertbundle');
      expect(check?.ok).toBe(false);
      expect(check?.fix).not.toMatch(/(set it to|copy) \S*token\.pem/);
      expect(check?.fix).toContain(
        `-----END CERTIFICATE-----/p' ${join(dir, 'token.pem')} > ${join(dir, 'bundle.pem')}`,
      );
    }
  });

  test('a bundle without the signing certificate; a thumbprint kid that registry 2.8 cannot find', () => {
    const other = write('other.pem', readFileSync(otherCert, 'utf8'));
    expect(run(load('x5c'), { ...good, rootcertbundle: other })).toContain(
      `FAIL rootcertbundle: ${join(tmp.dir, other)} holds neither the signing certificate nor the root of its chain (1 certificate); the registry rejects every token`,
    );
    const own = write('own.pem', readFileSync(cert, 'utf8'));
    const thumbprint = run(load('thumbprint'), { ...good, rootcertbundle: own });
    expect(thumbprint.find((l) => l.includes('rootcertbundle'))).toMatch(
      /^FAIL rootcertbundle: .* holds the signing certificate, but regauth names its key by kid alone/,
    );
    expect(run(load('libtrust'), { ...good, rootcertbundle: own })).toContain('ok rootcertbundle');
  });

  test('a bundle of another key type (RSA against an EC key): refused, and keys still load after it', async () => {
    const rsa = await generateSigningMaterial({ alg: 'RS256', commonName: 'rsa', validDays: 365 });
    const bundle = write('rsa-bundle.pem', rsa.certPem);
    expect(run(load('x5c'), { ...good, rootcertbundle: bundle })).toContain(
      `FAIL rootcertbundle: ${join(tmp.dir, bundle)} holds neither the signing certificate nor the root of its chain (1 certificate); the registry rejects every token`,
    );
    // Comparing keys of two types must leave nothing behind that fails the next key parsed.
    writeFileSync(join(tmp.dir, 'rsa.key'), rsa.keyPem, { mode: 0o600 });
    writeFileSync(join(tmp.dir, 'rsa.pem'), rsa.certPem);
    writeFileSync(
      join(tmp.dir, 'rsa.yml'),
      `token:\n  issuer: acme\n  key: ${join(tmp.dir, 'rsa.key')}\n  certificate: ${join(tmp.dir, 'rsa.pem')}\n  services: [registry.test]\n`,
    );
    expect(loadConfigFile(join(tmp.dir, 'rsa.yml')).token.key.alg).toBe('RS256');
  });

  test('a certificate that has expired, and a jwks that cannot be read or lacks the kid', () => {
    expect(run(load('x5c'), good, new Date(Date.now() + 400 * 86_400_000))).toContainEqual(
      expect.stringMatching(/^FAIL certificate: .* has expired \(/),
    );
    const config = load('thumbprint');
    const unreadable = run(config, { ...good, jwks: 'missing.json' });
    expect(unreadable.filter((l) => l.includes('jwks'))).toEqual([
      `FAIL jwks: cannot read ${join(tmp.dir, 'missing.json')}: ENOENT`,
    ]);
    const wrong = write('wrong.json', '{"keys":[{"kid":"nope"}]}');
    expect(run(config, { ...good, jwks: wrong })).toContain(
      `FAIL jwks: ${join(tmp.dir, wrong)} does not hold regauth's kid ${config.token.key.kid}; registry v3 rejects kid-only tokens`,
    );
  });
});

test('between rotate and activate, a registry jwks without the next key is a finding, before the outage', async () => {
  // Found by an adversarial review: doctor said to run `keys activate` (exit 0); the jwks check
  // failed only after activation, once a registry v3 refused every token.
  const dir = join(tmp.dir, 'keys-rotation-jwks');
  await keysInit(dir);
  const registryDir = join(tmp.dir, 'registry-rotation');
  mkdirSync(registryDir);
  copyFileSync(join(dir, 'jwks.json'), join(registryDir, 'jwks.json')); // installed before the rotation
  await keysRotate(dir);
  copyFileSync(join(dir, 'bundle.pem'), join(registryDir, 'bundle.pem')); // the bundle updated, the jwks forgotten
  const registryConfig = join(tmp.dir, 'registry-rotation.yml');
  writeFileSync(
    registryConfig,
    `auth:\n  token:\n    realm: https://r.test/auth\n    service: r.test\n    issuer: regauth\n    rootcertbundle: ${registryDir}/bundle.pem\n    jwks: ${registryDir}/jwks.json\n`,
  );
  const config = join(tmp.dir, 'doctor-rotation.yml');
  writeFileSync(
    config,
    `token: {issuer: regauth, x5c: false, key: ${dir}/token.key, certificate: ${dir}/token.pem}\nusers: {"": {}}\nacl: []\n`,
  );
  const before = await regauth(['doctor', '-c', config, '--registry-config', registryConfig]);
  expect(before.code).toBe(1);
  expect(before.stdout).toContain("the registry's jwks");
  // The registry reads a bundle.pem of its own directory: the copy is written again with --publish.
  expect(before.stdout).toContain(`run \`regauth keys publish --dir ${dir} --publish ${registryDir}\``);
  // With the jwks installed too, the rotation may go on.
  copyFileSync(join(dir, 'jwks.json'), join(registryDir, 'jwks.json'));
  const ready = await regauth(['doctor', '-c', config, '--registry-config', registryConfig]);
  expect(ready.code).toBe(0);
  expect(ready.stdout).toContain('run `regauth keys activate');
  await keysActivate(dir);
  copyFileSync(join(dir, 'jwks.json'), join(registryDir, 'jwks.json'));
  expect((await regauth(['doctor', '-c', config, '--registry-config', registryConfig])).code).toBe(0);
});

/** A key directory mid-rotation (current and next key) and a config signing with its current key. */
async function midRotation(name: string) {
  const dir = join(tmp.dir, name);
  await keysInit(dir);
  await keysRotate(dir);
  writeFileSync(
    join(dir, 'c.yml'),
    `token:\n  issuer: acme\n  key: token.key\n  certificate: token.pem\n  services: [registry.test]\n`,
  );
  return { dir, config: loadConfigFile(join(dir, 'c.yml')) };
}

/** The registry's bundle mid-rotation (next, current) with the signing key pasted after it. */
const bundleWithKey = (dir: string) =>
  readFileSync(join(dir, 'next.pem'), 'utf8') +
  readFileSync(join(dir, 'token.pem'), 'utf8') +
  readFileSync(join(dir, 'token.key'), 'utf8');

test('following the fix for a bundle with a key keeps every certificate of it (mid-rotation: current and next)', async () => {
  // The advice was `openssl x509 -in B -out B.new`, which writes the first certificate only: the
  // registry then lost the current key and refused every token. Found by a review.
  const { dir, config } = await midRotation('keys-fix-keeps-all');
  const bundle = join(dir, 'registry-bundle.pem');
  writeFileSync(bundle, bundleWithKey(dir));
  const check = () =>
    diagnose(config, { token: { ...good, rootcertbundle: bundle }, dir }).find(
      (c) => c.name === 'rootcertbundle',
    );
  const flagged = check();
  expect(flagged?.ok).toBe(false);
  const command = /`([^`]+)`/.exec(flagged!.fix!)![1]!;
  execFileSync('sh', ['-c', command]);
  renameSync(`${bundle}.new`, bundle);
  const text = readFileSync(bundle, 'utf8');
  expect(text).not.toContain('PRIVATE KEY');
  expect(text.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  expect(check()?.ok).toBe(true);
});

test('the fix for a bundle with a key works for a path with a space, and writes nowhere else', async () => {
  // The advised `sed … ${path} > ${path}.new` quoted neither path: with "registry certs" in it,
  // the shell redirected to ".../registry" and handed sed three other names. Found by a review.
  const { dir, config } = await midRotation('keys-space');
  const registryDir = join(tmp.dir, 'registry certs');
  mkdirSync(registryDir);
  const bundle = join(registryDir, 'bundle.pem');
  writeFileSync(bundle, bundleWithKey(dir));
  const flagged = diagnose(config, { token: { ...good, rootcertbundle: bundle }, dir }).find(
    (c) => c.name === 'rootcertbundle',
  );
  expect(flagged?.ok).toBe(false);
  const command = /`([^`]+)`/.exec(flagged!.fix!)![1]!;
  try {
    execFileSync('sh', ['-c', command], { cwd: tmp.dir, stdio: 'ignore' });
  } catch {
    // judged by what it wrote
  }
  expect(existsSync(join(tmp.dir, 'registry'))).toBe(false); // nothing written beside the directory
  expect(existsSync(`${bundle}.new`)).toBe(true);
  renameSync(`${bundle}.new`, bundle);
  const text = readFileSync(bundle, 'utf8');
  expect(text).not.toContain('PRIVATE KEY');
  expect(text.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
});
