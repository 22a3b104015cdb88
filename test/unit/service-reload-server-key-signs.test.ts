/**
 * Found by a review of keys and reload. Without token.key, `server.key` and `server.certificate` sign the tokens (docker_auth's
 * behaviour; docs/registry-compatibility.md "Signing keys"). docs/operations.md ("What a reload
 * does not apply") lists `server.certificate` and `server.key` as read at start only, and a
 * reload that finds them changed logs "server.key changed; it applies at start only, so the
 * running server keeps the old value until regauth is restarted".
 *
 * But the reload does apply them, to signing: compileSigningKey reads server.key again, and the
 * new runtime signs with the new key at once, while the log tells the operator the old value is
 * kept. A TLS certificate renewed in place (certbot renews with a new key by default) thus
 * silently switches the token signing key, which the registry's rootcertbundle may not trust,
 * behind a log line that says nothing changed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { tempDir } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-reload-server-key-');
afterAll(() => tmp.cleanup());

test('a reload that says server.key keeps its old value keeps signing with the old key', async () => {
  const keyPath = join(tmp.dir, 'server.key');
  const certPath = join(tmp.dir, 'server.pem');
  const first = await generateSigningMaterial({ alg: 'ES256', commonName: 'localhost', validDays: 2 });
  writeFileSync(keyPath, first.keyPem, { mode: 0o600 });
  writeFileSync(certPath, first.certPem);
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0", certificate: ${certPath}, key: ${keyPath}}\ntoken: {issuer: t}\nacl: []\n`,
  );
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  try {
    const before = service.runtime().config.token.key.kid;
    // The certificate renewed in place, with a new key.
    const renewed = await generateSigningMaterial({ alg: 'ES256', commonName: 'localhost', validDays: 2 });
    writeFileSync(keyPath, renewed.keyPem, { mode: 0o600 });
    writeFileSync(certPath, renewed.certPem);
    await service.reload();

    const kept = log.lines
      .map((l) => JSON.parse(l) as { key?: string; msg?: string })
      .filter((l) => l.key === 'server.key' && /keeps the old value/.test(l.msg ?? ''));
    expect(readFileSync(keyPath, 'utf8')).toBe(renewed.keyPem);
    // Either the signing key is kept, as the log says, or the log does not say the old value is kept.
    if (kept.length > 0) expect(service.runtime().config.token.key.kid).toBe(before);
    else expect(service.runtime().config.token.key.kid).not.toBe(before);
    // What the log says instead: the listener keeps its files, the tokens are signed anew.
    const told = log.lines
      .map((l) => JSON.parse(l) as { key?: string; msg?: string; level?: number })
      .filter((l) => l.key === 'server.key');
    expect(told).toHaveLength(1);
    expect(told[0]!.level).toBe(40);
    expect(told[0]!.msg).toMatch(/TLS listener keeps the old one until regauth is restarted/);
    expect(told[0]!.msg).toMatch(/tokens are signed with the new one now/);
  } finally {
    await service.close(100);
  }
});
