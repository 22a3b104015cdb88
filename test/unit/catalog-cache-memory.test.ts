import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import { listCatalog } from '../../src/catalog/catalog.js';
import type { FullCatalog, RegistryCatalog } from '../../src/catalog/registry.js';
import { loadSigningKey } from '../../src/token/keys.js';
import { signAccessToken } from '../../src/token/sign.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { catalogConfig } from '../helpers/catalog.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const config = catalogConfig({ cacheTtl: 3600 });
const tmp = tempDir();
afterAll(() => tmp.cleanup());

// The per-caller lists were bounded by their names, each entry counting at least 1 whatever its
// key: one caller with ~10 KB of labels from many addresses of one /64 (the key holds the address,
// as ACL ip rules may tell them apart) kept ~30 MB alive in a few seconds, and up to ~10 GB at
// the bound. Found by a review.
describe("the catalog's per-caller cache (about 8 MB)", () => {
  test('stays bounded when one caller with many labels comes from many addresses', async () => {
    const keys = await writeSigningKey(tmp.dir);
    const key = loadSigningKey({
      keyPem: readFileSync(keys.keyPath, 'utf8'),
      certPem: readFileSync(keys.certPath, 'utf8'),
      keyPath: keys.keyPath,
      certPath: keys.certPath,
      x5c: true,
      kidFormat: 'libtrust',
    });
    const now = Date.now();
    // An account with many directory groups: ~10 KB of labels (the token, ~14 KB, fits Node's 16 KiB header limit).
    const groups = Array.from({ length: 220 }, (_, i) => `cn=group-${i},ou=groups,dc=example,dc=org`);
    const token = await signAccessToken(
      key,
      { subject: 'mallory', audience: 'regauth-catalog', access: [], labels: { groups } },
      { issuer: 'iss', expiresInSeconds: 3600, now: Math.floor(now / 1000) },
    );
    const full: FullCatalog = { repositories: ['public/a', 'secret/b'], fetchedAt: now };
    const registry = { get: async () => full } as unknown as RegistryCatalog;
    const acl = compileAcl([{ match: { name: 'secret/*' }, actions: [] }]);
    const deps = { catalog: config, registry, acl, extAuthz: undefined, key, issuer: 'iss', ipv6Prefix: 64 };

    expect(`Bearer ${token}`.length).toBeLessThan(16 * 1024);
    gc();
    const before = process.memoryUsage().heapUsed;
    // One /64 (ipv6_prefix: 64 counts it as one client elsewhere) is 2^64 addresses.
    for (let i = 0; i < 3000; i++) {
      await listCatalog(deps, {
        authorization: `Bearer ${token}`,
        query: '',
        ip: `2001:db8::${i.toString(16)}`,
        now,
      });
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    expect(full.repositories).toHaveLength(2);
  }, 60_000);
});
