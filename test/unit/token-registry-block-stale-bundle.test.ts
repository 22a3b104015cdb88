/**
 * Found by a review of keys and reload. `regauth serve` logs at every start "registry config: auth.token.rootcertbundle must point to
 * X" (and prints it in the block on a first start); `registryTrustFiles` picks X: `bundle.pem`
 * beside the key whenever that file exists, whatever it holds. When token.key / token.pem were
 * replaced by hand after `keys init` (a CA-issued key installed in the same directory, a key
 * restored from a backup), bundle.pem holds only the old certificate: the line tells the operator
 * to give the registry a bundle that refuses every token regauth signs. The same was fixed for a
 * stale certificates.pem (test/unit/service-paste-block.test.ts); bundle.pem itself is not checked.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { certificatePems } from '../../src/token/keys.js';
import { registryTrustFiles } from '../../src/token/registry-block.js';
import { keysInit } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-stale-bundle-');
afterAll(() => tmp.cleanup());

test('the rootcertbundle serve names holds the certificate regauth signs with', async () => {
  const dir = join(tmp.dir, 'keys');
  const files = await keysInit(dir);
  // The key replaced by hand in the same directory; bundle.pem is left from keys init.
  const replaced = await generateSigningMaterial({ alg: 'ES256', commonName: 'ca-issued', validDays: 30 });
  writeFileSync(files.key, replaced.keyPem, { mode: 0o600 });
  writeFileSync(files.certificate, replaced.certPem);
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${files.key}, certificate: ${files.certificate}}\nacl: []\n`,
  );
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  await service.close(100);
  const listening = log.lines
    .map((l) => JSON.parse(l) as { msg?: string; rootcertbundle?: string })
    .find((l) => String(l.msg).startsWith('regauth listening'));
  const named = listening?.rootcertbundle;
  expect(named).toBeDefined();
  const signing = new X509Certificate(replaced.certPem).fingerprint256;
  const inNamed = certificatePems(readFileSync(named!, 'utf8')).map(
    (c) => new X509Certificate(c).fingerprint256,
  );
  expect(inNamed).toContain(signing);
});

test('a jwks.json left from another key is not named; a bundle.pem holding only the issuing CA is', () => {
  const dir = join(tmp.dir, 'ca');
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=test CA', '-days', '2', '-out', 'ca.pem');
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
    '2',
    '-out',
    'token.pem',
  );
  // The operator's bundle: the CA alone (tokens carry x5c; the registry checks the chain).
  writeFileSync(join(dir, 'bundle.pem'), readFileSync(join(dir, 'ca.pem')));
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...other, kid: 'old' }] }));
  const trust = registryTrustFiles(join(dir, 'token.key'), join(dir, 'token.pem'), { x5c: true, kid: 'x' });
  expect(trust.bundle).toBe(join(dir, 'bundle.pem'));
  expect(trust.jwks).toBeUndefined();
  // The JWKS with the signing key under the tokens' kid is named again.
  const own = new X509Certificate(readFileSync(join(dir, 'token.pem'))).publicKey.export({ format: 'jwk' });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...own, kid: 'x' }] }));
  expect(
    registryTrustFiles(join(dir, 'token.key'), join(dir, 'token.pem'), { x5c: true, kid: 'x' }).jwks,
  ).toBe(join(dir, 'jwks.json'));
});
