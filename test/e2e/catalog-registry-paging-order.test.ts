import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { registryPlace, serveRegistry, type RegistryProcess } from './harness/registry.js';

/**
 * Found by a review of the catalog: regauth reads the registry's whole catalog by following its Link headers
 * (src/catalog/registry.ts). Registry 2.8 (Debian's docker-registry 2.8.2) walks its storage with
 * a repository's children sorted byte-wise, so a child whose name starts with a digit (`p/0a`) is
 * walked before its parent's own `_layers` (`p`). Two consequences when a page ends inside such a
 * child tree:
 *  - the page ends on `p/0a` and `p` comes right after it: the registry's "page full" check is
 *    skipped, it walks to the end and answers the full page WITHOUT a Link; everything after is
 *    never read;
 *  - the page ends on `p/0a` and another digit child follows: the Link says `last=p/0a`, and the
 *    next page drops `p` (it is "before" `p/0a` in the registry's own `last` comparison).
 * regauth trusts the Link and the `last` it carries, so those repositories are missing from every
 * caller's catalog (and the registry page), even for callers who may pull them.
 *
 * The registry's catalog.maxentries is 3 here to keep the layout small; with the default 1000 the
 * same happens at the 1000th repository.
 */

const ISSUER = 'review-paging';
const SERVICE = 'reg';

/** A registry whose storage holds exactly `repositories` (their directories, as a push makes them). */
async function registryWith(
  repositories: readonly string[],
  certPath: () => string,
  place: { dir: string; host: string },
): Promise<RegistryProcess> {
  const root = join(place.dir, 'data', 'docker', 'registry', 'v2', 'repositories');
  for (const name of repositories) {
    for (const sub of ['_layers', '_manifests', '_uploads'])
      mkdirSync(join(root, name, sub), { recursive: true });
  }
  const configPath = join(place.dir, 'config.yml');
  writeFileSync(
    configPath,
    dump({
      version: '0.1',
      log: { level: 'info', formatter: 'text' },
      storage: {
        filesystem: { rootdirectory: join(place.dir, 'data') },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: place.host, secret: randomBytes(16).toString('hex') },
      auth: {
        token: {
          realm: 'http://127.0.0.1/auth',
          service: SERVICE,
          issuer: ISSUER,
          rootcertbundle: certPath(),
        },
      },
      catalog: { maxentries: 3 },
    }),
  );
  return serveRegistry({ dir: place.dir, host: place.host, configPath });
}

function scenario(title: string, repositories: readonly string[]): void {
  describe(title, () => {
    const tmp = tempDir();
    let srv: TestServer;
    let registry: RegistryProcess;
    let cert = '';
    beforeAll(async () => {
      const place = await registryPlace();
      srv = await startTestServer({
        dir: tmp.dir,
        config: ({ keyPath, certPath }) => {
          cert = certPath;
          return `server: {addr: "127.0.0.1:0"}
token: {issuer: ${ISSUER}, key: ${keyPath}, certificate: ${certPath}, services: [${SERVICE}]}
users: {"": {}}
acl: [{match: {}, actions: [pull]}]
catalog: {registry_url: "http://${place.host}", realm: "http://127.0.0.1/auth", cache_ttl: 0}
`;
        },
      });
      registry = await registryWith(repositories, () => cert, place);
    });
    afterAll(async () => {
      await srv?.server.close(100);
      await registry?.stop();
      tmp.cleanup();
    });

    test('every repository the caller may pull is listed', async () => {
      const t = await fetch(`${srv.url}/auth?service=regauth-catalog&scope=registry:catalog:*`);
      expect(t.status).toBe(200);
      const { token } = (await t.json()) as { token: string };
      const res = await fetch(`${srv.url}/v2/_catalog?n=100`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      const { repositories: listed } = (await res.json()) as { repositories: string[] };
      // Anonymous may pull everything: the catalog must hold every repository in storage.
      expect([...listed].sort()).toEqual([...repositories].sort());
    });
  });
}

scenario('a page ending on p/0a right before its parent p: the registry sends no Link', [
  'a/r0',
  'a/r1',
  'p/0a',
  'p',
  'z',
]);

scenario('a page ending on p/0a with p/1b next: the Link (last=p/0a) skips p', [
  'a/r0',
  'a/r1',
  'p/0a',
  'p/1b',
  'p',
  'z',
]);
