/**
 * Found by a review of the compose stack and image. Defect: docs/deployment.md tells the operator how to move the compose stack from `localhost`
 * to another host name, and leaves out a setting that carries the old name. The paragraph reads:
 * "For another host name, put a certificate for that name into the `tls` volume as
 * `localhost.pem` ..., and change `auth.token.realm` (and `service`, with regauth's
 * `token.services`) in `compose/registry/config.yml` to the name clients use." But both compose
 * regauth configs (compose/regauth/config.yml and ldap.yml) also hold
 * `catalog.realm: https://localhost/auth`, commented "= auth.token.realm in registry/config.yml".
 * After the documented edits, regauth's `/v2/_catalog` (routed to regauth by HAProxy) still
 * answers its Bearer challenge with `realm="https://localhost/auth"`: a catalog client (crane
 * catalog, regctl repo ls, as the same doc section suggests) on another machine fetches its token
 * from https://localhost/auth, i.e. from its own machine: the listing fails (or the user's
 * credentials go to whatever answers on the client's own port 443), and the registry page
 * (/ui/) prints `docker pull localhost/...` lines (host of catalog.realm).
 *
 * Observed on the running stack: `curl -k -i https://localhost/v2/_catalog` answers
 * `www-authenticate: Bearer realm="https://localhost/auth",service="regauth-catalog",...`: the
 * realm comes from catalog.realm, which the documented procedure does not touch.
 *
 * Suggested fix: in that paragraph, also name `catalog.realm` in `compose/regauth/config.yml`
 * and `ldap.yml` (it must equal `auth.token.realm`), or have regauth derive the catalog's realm
 * from the request's host when it is left out.
 *
 * The test applies exactly the edits the paragraph names (a key it does not name is left as
 * shipped) and checks that every compose regauth config's catalog.realm then equals the
 * registry's realm, as those configs themselves require.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load } from 'js-yaml';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');
const NEW_HOST = 'registry.example.com';

interface RegistryConfig {
  auth: { token: { realm: string; service: string } };
}
interface RegauthConfig {
  token: { services?: string[] };
  catalog?: { realm?: string };
}

/** The paragraph of docs/deployment.md that says how to use another host name. */
function hostNameParagraph(): string {
  const doc = read('docs/deployment.md');
  const paragraph = doc
    .split(/\n\s*\n/)
    .find((p) => /For\s+another\s+host\s+name/.test(p) && p.includes('auth.token.realm'));
  if (!paragraph) throw new Error('the "For another host name" paragraph of docs/deployment.md');
  return paragraph;
}

test('the documented edits for another host name leave no regauth realm on localhost', () => {
  const paragraph = hostNameParagraph();
  const named = new Set([...paragraph.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));

  const registry = load(read('compose/registry/config.yml')) as RegistryConfig;
  // The edits the paragraph names: the registry's realm and service, regauth's token.services.
  expect(named.has('auth.token.realm')).toBe(true);
  registry.auth.token.realm = registry.auth.token.realm.replace('//localhost/', `//${NEW_HOST}/`);
  registry.auth.token.service = NEW_HOST;

  const configs = readdirSync(resolve(ROOT, 'compose/regauth')).filter((f) => f.endsWith('.yml'));
  const stale: string[] = [];
  for (const file of configs) {
    const config = load(read(`compose/regauth/${file}`)) as RegauthConfig;
    if (named.has('token.services')) config.token.services = [NEW_HOST];
    if (config.catalog?.realm !== undefined && named.has('catalog.realm')) {
      config.catalog.realm = registry.auth.token.realm;
    }
    if (config.catalog?.realm !== undefined && config.catalog.realm !== registry.auth.token.realm) {
      stale.push(`compose/regauth/${file}: catalog.realm ${config.catalog.realm}`);
    }
  }
  expect(stale, `registry realm is now ${registry.auth.token.realm}`).toEqual([]);
});
