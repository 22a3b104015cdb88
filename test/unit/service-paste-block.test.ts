import { generateSigningMaterial } from '../../src/token/generate.js';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { registryAuthBlock, registryTrustFiles } from '../../src/token/registry-block.js';
import { keysInit, keysRotate, pasteBlocks } from '../../src/tools/keys.js';
import { tempDir } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

/** Tokens that carry the chain (the default): which kid they name does not matter here. */
const X5C = { x5c: true, kid: 'unused' };

const tmp = tempDir('regauth-paste-');
afterAll(() => tmp.cleanup());
afterEach(() => vi.restoreAllMocks());

/** Starts serve on a config, returning what it wrote to stderr and its startup log line. */
async function serveOnce(configFile: string, dataDir: string) {
  let stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const log = logSink();
  const service = await startService({
    configFile,
    dataDir,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  await service.close(100);
  vi.restoreAllMocks();
  const listening = log.lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => String(l['msg']).startsWith('regauth listening'));
  return { stderr, listening };
}

describe("serve's registry block", () => {
  test('with a key from keys init (rotated): names bundle.pem, which trusts old and new, as keys init does', async () => {
    const dir = join(tmp.dir, 'keys');
    const files = await keysInit(dir);
    await keysRotate(dir);
    expect(readFileSync(files.bundle, 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const configFile = join(tmp.dir, 'prod.yml');
    writeFileSync(
      configFile,
      'server: {addr: "127.0.0.1:0"}\ntoken: {issuer: acme, key: keys/token.key, certificate: keys/token.pem, services: [registry.test]}\nacl: []\n',
    );
    const { stderr, listening } = await serveOnce(configFile, join(tmp.dir, 'unused-data'));
    // The key was made by keys init, which printed the block: serve does not print it again.
    expect(stderr).toBe('');
    expect(listening).toMatchObject({
      rootcertbundle: files.bundle,
      registryAuthToken: { rootcertbundle: files.bundle, jwks: files.jwks, issuer: 'acme' },
    });
    // keys init and serve word the block with one function.
    const block = pasteBlocks(files, readFileSync(files.certificate, 'utf8'));
    expect(block).toContain(
      registryAuthBlock({
        realm: 'https://registry.example.com/auth',
        service: 'registry.example.com',
        issuer: 'regauth',
        bundle: files.bundle,
        jwks: files.jwks,
      }),
    );
  });

  test('a certificate file that holds its key too, no bundle.pem: never named as the registry’s bundle', async () => {
    // A combined PEM (certificate, then key) is a valid token.certificate; the registry must get
    // the certificate alone. Found by a review: the start-up line told the operator to point
    // rootcertbundle at it, handing the registry the signing key.
    const dir = join(tmp.dir, 'combined');
    const files = await keysInit(dir);
    const combined = join(tmp.dir, 'combined.pem');
    writeFileSync(combined, readFileSync(files.certificate, 'utf8') + readFileSync(files.key, 'utf8'));
    rmSync(files.bundle);
    const configFile = join(tmp.dir, 'combined.yml');
    writeFileSync(
      configFile,
      `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: acme, key: combined/token.key, certificate: combined.pem}\nacl: []\n`,
    );
    const { listening } = await serveOnce(configFile, join(tmp.dir, 'unused-data'));
    const text = JSON.stringify(listening);
    expect(text).not.toContain(`"${combined}"`);
    expect(listening?.['rootcertbundle']).toBe(files.bundle);
    expect(String(listening?.['msg'])).toContain(`${combined} holds a private key too`);
    expect(String(listening?.['msg'])).toContain(
      `sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' ${combined} > ${files.bundle}`,
    );
  });

  test('a combined certificate file that is itself bundle.pem beside the key: never named as the bundle', async () => {
    // bundle.pem "exists", so it was the bundle, and the advice was to write it onto itself.
    const dir = join(tmp.dir, 'combined-bundle');
    const files = await keysInit(dir);
    writeFileSync(files.bundle, readFileSync(files.certificate, 'utf8') + readFileSync(files.key, 'utf8'));
    rmSync(files.certificate);
    const trust = registryTrustFiles(files.key, files.bundle, X5C);
    expect(trust.bundle).toBe(join(dir, 'certificates.pem'));
    expect(trust.combined).toBe(files.bundle);
    expect(trust.makeBundle).toContain(`${files.bundle} > ${join(dir, 'certificates.pem')}`);
    // Once the operator has run it, the file is named, with nothing left to write.
    execFileSync('sh', ['-c', trust.makeBundle!]);
    const after = registryTrustFiles(files.key, files.bundle, X5C);
    expect(after.bundle).toBe(join(dir, 'certificates.pem'));
    expect(after.makeBundle).toBeUndefined();
    expect(readFileSync(after.bundle, 'utf8')).not.toContain('PRIVATE KEY');
  });

  test('the development key: printed on the first start (when serve creates the key), not on later ones', async () => {
    const configFile = join(tmp.dir, 'dev.yml');
    writeFileSync(configFile, 'server: {addr: "127.0.0.1:0"}\ntoken: {issuer: dev}\nacl: []\n');
    const dataDir = join(tmp.dir, 'data');
    const first = await serveOnce(configFile, dataDir);
    const realm = String((first.listening?.['registryAuthToken'] as { realm: string }).realm);
    expect(first.stderr).toContain(
      registryAuthBlock({
        realm,
        service: 'registry.example.com',
        issuer: 'dev',
        bundle: join(dataDir, 'token.pem'),
        jwks: undefined,
      }),
    );
    const second = await serveOnce(configFile, dataDir);
    expect(second.stderr).toBe('');
    expect(second.listening).toMatchObject({
      registryAuthToken: { rootcertbundle: join(dataDir, 'token.pem') },
    });
  });
});

test('a certificates.pem the advised command left empty (sed failed, the shell had made the file) is not named as the bundle', async () => {
  // certificates.pem was named as soon as it existed and held no key. The advised
  // `sed … 'bundle.pem' > 'certificates.pem'` creates the file before sed runs: when sed cannot
  // read the combined file, certificates.pem is left empty, and serve's start-up line then said
  // rootcertbundle must point to it, with no command any more. Found by a review.
  const dir = join(tmp.dir, 'combined-bundle-empty');
  const files = await keysInit(dir);
  writeFileSync(files.bundle, readFileSync(files.certificate, 'utf8') + readFileSync(files.key, 'utf8'));
  rmSync(files.certificate);
  const trust = registryTrustFiles(files.key, files.bundle, X5C);
  expect(trust.makeBundle).toBeDefined();
  // The operator runs it, and sed fails (here: not found, as in a minimal image; equally a
  // combined file they cannot read): the shell has already created the target.
  try {
    execFileSync('/bin/sh', ['-c', trust.makeBundle!], { stdio: 'ignore', env: { PATH: '/nonexistent' } });
  } catch {
    // sh: sed: not found
  }
  expect(readFileSync(join(dir, 'certificates.pem'), 'utf8')).toBe('');
  const after = registryTrustFiles(files.key, files.bundle, X5C);
  // Either not named, or named with the command that (re)writes it.
  expect(after.bundle !== join(dir, 'certificates.pem') || after.makeBundle !== undefined).toBe(true);
});

test('a stale certificates.pem that lacks the signing certificate is not named as the bundle without a command', async () => {
  // Combined bundle.pem (certificate + key) beside the key; certificates.pem was written by the
  // advised command for an earlier key. Any certificate was accepted, so the start-up line named
  // a file the registry would use to refuse every token, with no command. Found by a review.
  const dir = join(tmp.dir, 'combined-stale');
  const files = await keysInit(dir);
  const old = await generateSigningMaterial({ alg: 'ES256', commonName: 'old', validDays: 10 });
  writeFileSync(join(dir, 'certificates.pem'), old.certPem);
  writeFileSync(files.bundle, readFileSync(files.certificate, 'utf8') + readFileSync(files.key, 'utf8'));
  const trust = registryTrustFiles(files.key, files.bundle, X5C);
  expect(trust.bundle !== join(dir, 'certificates.pem') || trust.makeBundle !== undefined).toBe(true);
});
