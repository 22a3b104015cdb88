/**
 * Found by a review of config reload and the key tools. docs/operations.md ("Reload"): "So does a config that no longer names `token.key` while the
 * running one does (a file cut short loads as such)": such a reload is refused, the old config
 * keeps serving.
 *
 * src/service/load.ts asks namedFiles().namesKey, which is true for `token.key` OR `server.key`.
 * A config that serves TLS (`server.key`/`server.certificate`) and signs with `token.key`, cut
 * short so that the `token:` section is lost (it comes after `server:`), therefore loads: without
 * token.key the TLS key signs the tokens (docker_auth's fallback), and regauth switches at once to
 * signing with a key the registry's rootcertbundle never held, so every pull and push fails.
 * Fix: src/service/load.ts, remember whether the running config named `token.key` itself (not
 * just "a key") and refuse a reload whose config no longer does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { generateSigningMaterial } from '../../src/token/generate.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-reload-tls-');
afterAll(() => tmp.cleanup());

test('a reload that no longer names token.key never falls back to signing with the TLS server.key', async () => {
  const tls = await generateSigningMaterial({ alg: 'ES256', commonName: '127.0.0.1', validDays: 2 });
  const tlsKey = join(tmp.dir, 'tls.key');
  const tlsCert = join(tmp.dir, 'tls.pem');
  writeFileSync(tlsKey, tls.keyPem, { mode: 0o600 });
  writeFileSync(tlsCert, tls.certPem);
  const keys = await writeSigningKey(tmp.dir, 'ES256');
  const full = `server:
  addr: "127.0.0.1:0"
  certificate: ${tlsCert}
  key: ${tlsKey}
token:
  issuer: regauth
  key: ${keys.keyPath}
  certificate: ${keys.certPath}
users: {"": {}}
acl: [{match: {}, actions: [pull]}]
`;
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(configFile, full);
  const log = logSink();
  const service = await startService({
    configFile,
    dataDir: join(tmp.dir, 'data'),
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  try {
    const kid = service.runtime().config.token.key.kid;
    // The file cut short inside token:, before its key (a writer that stalls, SIGHUP mid-write).
    writeFileSync(configFile, full.slice(0, full.indexOf(`  key: ${keys.keyPath}`)));
    await service.reload().catch(() => undefined);
    // Still signing with token.key, and the operator was told why.
    expect(service.runtime().config.token.key.kid).toBe(kid);
    expect(log.lines.join('')).toContain('config reload failed; keeping the current config');
  } finally {
    await service.close(100);
  }
});
