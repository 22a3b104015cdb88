/**
 * Found by a review of 4e23103 ("Refuse a reload that would sign with server.key instead of token.key").
 *
 * The guard decides on one read of the file (namedFiles), and loadConfigFile then reads it again
 * and loads whatever that second read holds. A writer that truncates and rewrites in place
 * (`cat > config.yml`, a template tool, `>` then appends) can be caught between the two reads:
 * the first sees the whole file (token.key named), the second the file cut short inside token:
 * — exactly the "TLS config cut short inside token:" of the commit — and the reload then signs
 * with server.key, a key the registry never trusted. (The development-key guard does not have
 * this gap: without `devKey` the loader itself refuses a config that names no key; nothing makes
 * the loader refuse a config that lost token.key.)
 * Fix: src/service/load.ts / src/config/load.ts, apply the token.key check to the text that is
 * loaded (e.g. a load option that refuses a config without token.key), not to an earlier read.
 */
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, expect, test, vi } from 'vitest';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { generateSigningMaterial } from '../../src/token/generate.js';

/** Paths whose next Buffer read (loadConfigFile's; namedFiles reads as 'utf8') gives other text. */
const secondRead = new Map<string, string>();
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((path: fs.PathOrFileDescriptor, options?: unknown) => {
    const key = typeof path === 'string' ? resolve(path) : undefined;
    if (key !== undefined && options === undefined && secondRead.has(key)) {
      const text = secondRead.get(key)!;
      secondRead.delete(key);
      return Buffer.from(text);
    }
    return (real.readFileSync as (p: unknown, o?: unknown) => unknown)(path, options);
  }) as typeof real.readFileSync;
  return { ...real, default: { ...real, readFileSync }, readFileSync };
});

const { HeldNotices, serviceLoader } = await import('../../src/service/load.js');

const tmp = tempDir('regauth-review-r3-second-read-');
afterAll(() => tmp.cleanup());

test('a file cut short inside token: between the guard read and the load is refused, not signed with server.key', async () => {
  const tls = await generateSigningMaterial({ alg: 'ES256', commonName: '127.0.0.1', validDays: 2 });
  const tlsKey = join(tmp.dir, 'tls.key');
  const tlsCert = join(tmp.dir, 'tls.pem');
  fs.writeFileSync(tlsKey, tls.keyPem, { mode: 0o600 });
  fs.writeFileSync(tlsCert, tls.certPem);
  const keys = await writeSigningKey(tmp.dir);
  const full = `server: {addr: "127.0.0.1:0", certificate: ${tlsCert}, key: ${tlsKey}}
users: {"": {}}
acl: [{match: {}, actions: [pull]}]
token:
  issuer: regauth
  key: ${keys.keyPath}
  certificate: ${keys.certPath}
`;
  const file = join(tmp.dir, 'config.yml');
  fs.writeFileSync(file, full);
  const loader = serviceLoader(file, join(tmp.dir, 'data'), new HeldNotices());
  const running = await loader.load();
  // The same file saved again; the load's own read lands while a rewrite is under way.
  secondRead.set(resolve(file), full.slice(0, full.indexOf('  key: ')));
  const next = await loader.load(running).then(
    (c) => `loaded, signing with ${c.token.keyPath}`,
    () => 'refused',
  );
  // Today: "loaded, signing with …/tls.key".
  expect(next).toBe('refused');
});
