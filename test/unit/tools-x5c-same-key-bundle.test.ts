/**
 * Found by a review of 851205e ("Judge a bundle by how tokens name their key, in serve and doctor").
 *
 * bundleTrusts (src/token/registry-block.ts) now answers 'leaf' for a bundle holding *any
 * certificate with the signing key* (`sameKey`), whatever token.x5c says. That is right for
 * kid-only tokens (the registry looks the kid up among the bundle certificates' keys), but with
 * x5c both registry 2.8 and v3 verify the token's chain as X.509 against the bundle (distribution
 * registry/auth/token/token.go verifyCertChain: Go's x509 Verify with the bundle as Roots): a
 * certificate of the same key that is neither the leaf itself nor its issuer anchors nothing.
 *
 * The case: token.pem renewed for the same key (a CA re-issuing the leaf, certbot --reuse-key,
 * an internal PKI's renewal), bundle.pem beside it still holding the previous leaf. serve's
 * start-up line and the pasted block name bundle.pem (before 851205e they named token.pem: the
 * old check wanted the certificate itself or its issuer), and doctor passes it: "holds the signing
 * certificate (tokens carry the chain in x5c: registry 2.8 and v3 verify it)". The registry
 * refuses every token; `openssl verify` (as Go) agrees.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { registryTrustFiles } from '../../src/token/registry-block.js';
import { diagnose } from '../../src/tools/doctor.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-x5c-same-key-');
afterAll(() => tmp.cleanup());

test('x5c: a bundle holding an earlier certificate of the same key is neither named nor passed', () => {
  const dir = join(tmp.dir, 'renewed');
  mkdirSync(dir);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test CA', '-days', '60', '-out', 'ca.pem');
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'token.key');
  run('req', '-new', '-key', 'token.key', '-subj', '/CN=regauth', '-out', 'token.csr');
  // The leaf as first issued (now in bundle.pem), and as renewed for the same key (token.pem).
  const issue = (days: string, out: string) =>
    run('x509', '-req', '-in', 'token.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-days', days, '-out', out);
  issue('30', 'old.pem');
  issue('90', 'token.pem');
  writeFileSync(join(dir, 'bundle.pem'), readFileSync(join(dir, 'old.pem')));
  // What the registry's x509 verification makes of it: no chain to anything in the bundle.
  const verify = spawnSync('openssl', ['verify', '-CAfile', 'bundle.pem', 'token.pem'], { cwd: dir });
  expect(verify.status).not.toBe(0);

  const file = join(dir, 'regauth.yml');
  writeFileSync(
    file,
    `token:\n  issuer: acme\n  key: ${join(dir, 'token.key')}\n  certificate: ${join(dir, 'token.pem')}\n  services: [registry.test]\n  x5c: true\n`,
  );
  const cfg = loadConfigFile(file);
  const named = registryTrustFiles(cfg.token.keyPath, cfg.token.certificatePath, {
    x5c: true,
    kid: cfg.token.key.kid,
  }).bundle;
  const doctor = diagnose(cfg, {
    token: {
      realm: 'https://r.example.com/auth',
      service: 'registry.test',
      issuer: 'acme',
      rootcertbundle: join(dir, 'bundle.pem'),
    },
    dir,
  }).find((c) => c.name === 'rootcertbundle')!;
  expect({ named, doctorOk: doctor.ok }).toEqual({ named: join(dir, 'token.pem'), doctorOk: false });
});
