/**
 * Found by a review of f2ea8dd ("Name a bundle.pem or jwks.json only if it trusts the signing key").
 *
 * registryTrustFiles (src/token/registry-block.ts) now names bundle.pem beside the key when it
 * holds the signing certificate *or the CA that issued one of its chain*, and jwks.json when it
 * holds the signing key *under whichever kid*. Both rules are right only for tokens that carry
 * x5c. Without x5c (token.x5c: false) the registry finds a token's key by kid alone among the
 * keys of the bundle's own certificates (2.8) or the jwks kids (v3)
 * (docs/registry-compatibility.md "How the registry finds the key"): a CA-only bundle, or a JWKS
 * holding the key under another kid, refuses every token. serve's start-up line, its pasted block
 * and doctor's own fix advice still name them, and doctor's checks then reject what doctor named.
 *
 * With x5c the two sides disagree the other way round: serve and doctor's advice name a CA-only
 * bundle.pem (Go's verification accepts it), and doctor's rootcertbundle check, given that very
 * file, says the registry rejects every token and asks for token.pem to be appended.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { registryTrustFiles } from '../../src/token/registry-block.js';
import { diagnose, type RegistryToken } from '../../src/tools/doctor.js';
import { keysInit } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-x5c-naming-');
afterAll(() => tmp.cleanup());

/** token.key / token.pem issued by a CA; bundle.pem beside them holds the CA alone (as in f2ea8dd's own test). */
function caIssuedKey(name: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test CA', '-days', '60', '-out', 'ca.pem');
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'token.key');
  run('req', '-new', '-key', 'token.key', '-subj', '/CN=regauth', '-out', 'token.csr');
  run(
    'x509',
    '-req',
    '-in',
    'token.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-days',
    '60',
    '-out',
    'token.pem',
  );
  writeFileSync(join(dir, 'bundle.pem'), readFileSync(join(dir, 'ca.pem')));
  return dir;
}

function config(dir: string, x5c: boolean) {
  const file = join(dir, `regauth-${x5c}.yml`);
  writeFileSync(
    file,
    `token:\n  issuer: acme\n  key: ${join(dir, 'token.key')}\n  certificate: ${join(dir, 'token.pem')}\n  services: [registry.test]\n  x5c: ${x5c}\n`,
  );
  return loadConfigFile(file);
}

const registry: RegistryToken = {
  realm: 'https://r.example.com/auth',
  service: 'registry.test',
  issuer: 'acme',
};

test('token.x5c: false: a bundle.pem holding only the issuing CA is not named as rootcertbundle', () => {
  const dir = caIssuedKey('no-x5c');
  const cfg = config(dir, false);
  const named = registryTrustFiles(cfg.token.keyPath, cfg.token.certificatePath, {
    x5c: cfg.token.key.x5c.length > 0,
    kid: cfg.token.key.kid,
  }).bundle;
  const bundleCheck = diagnose(cfg, { token: { ...registry, rootcertbundle: named }, dir }).find(
    (c) => c.name === 'rootcertbundle',
  )!;
  // Kid-only tokens: the registry looks the kid up among the keys of the bundle's certificates.
  // The bundle named must hold the signing certificate itself; doctor says the same of it.
  const leaf = new X509Certificate(readFileSync(cfg.token.certificatePath)).fingerprint256;
  const inNamed = readFileSync(named, 'utf8')
    .match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!
    .map((p) => new X509Certificate(p).fingerprint256);
  expect({ named, holdsLeaf: inNamed.includes(leaf), doctor: bundleCheck.ok }).toEqual({
    named,
    holdsLeaf: true,
    doctor: true,
  });
});

test('token.x5c: false: a jwks.json holding the signing key under a kid tokens do not carry is not named', async () => {
  const dir = join(tmp.dir, 'foreign-kid');
  const files = await keysInit(dir);
  const cfg = config(dir, false);
  // The signing key, but under a kid of another tool's making (not regauth's kid).
  const own = new X509Certificate(readFileSync(files.certificate)).publicKey.export({ format: 'jwk' });
  writeFileSync(files.jwks, JSON.stringify({ keys: [{ ...own, kid: 'x' }] }));
  const named = registryTrustFiles(cfg.token.keyPath, cfg.token.certificatePath, {
    x5c: cfg.token.key.x5c.length > 0,
    kid: cfg.token.key.kid,
  }).jwks;
  if (named === undefined) return; // not named: fine
  // Named: then registry v3 must find regauth's kid there (kid-only tokens), as doctor checks.
  const jwksCheck = diagnose(cfg, {
    token: { ...registry, rootcertbundle: files.bundle, jwks: named },
    dir,
  }).find((c) => c.name === 'jwks')!;
  expect(jwksCheck).toMatchObject({ ok: true });
});

test('x5c: doctor does not reject the CA-only bundle.pem its own advice (and serve) names', () => {
  const dir = caIssuedKey('x5c');
  const cfg = config(dir, true);
  // No rootcertbundle in the registry config: doctor's fix names the file to use.
  const missing = diagnose(cfg, { token: registry, dir }).find((c) => c.name === 'rootcertbundle')!;
  expect(missing.ok).toBe(false);
  expect(missing.fix).toBe(`set it to ${join(dir, 'bundle.pem')}`);
  // The registry (Go's x509 verification of the x5c chain) accepts it: openssl agrees.
  execFileSync('openssl', ['verify', '-CAfile', join(dir, 'bundle.pem'), join(dir, 'token.pem')], {
    stdio: 'ignore',
  });
  // Following the advice: doctor must not now say the registry rejects every token.
  const followed = diagnose(cfg, {
    token: { ...registry, rootcertbundle: join(dir, 'bundle.pem') },
    dir,
  }).find((c) => c.name === 'rootcertbundle')!;
  expect(followed.ok ? '' : `${followed.message} / fix: ${followed.fix}`).toBe('');
});
