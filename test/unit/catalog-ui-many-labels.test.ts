/**
 * Found by a review of the filtered catalog and its registry page.
 *
 * Defect: the registry page `/ui/` refuses an account with many labels (e.g. an LDAP / AD user
 * in 600 directory groups) with 401 and the Basic challenge, after its password was accepted:
 * the browser asks for the password again, forever (with an `oidc_auth` session the cookie is
 * cleared: "your session is no longer valid; sign in again", and the next sign-in fails the same
 * way). The listing never shows.
 *
 * What the docs promise (docs/catalog.md "How a request goes", step 2): a catalog token carries
 * the account's labels, "so an account with hundreds of directory groups gets a long token"; a
 * client cannot send one past ~15 KB back to /v2/_catalog (431), but "The registry page reads the
 * catalog with its token inside regauth, so it is not bound by this." It is bound by something
 * else: the page (src/http/ui.ts) signs the catalog token, then hands it to listCatalog as
 * `Bearer <token>`, and src/catalog/token.ts refuses any token longer than MAX_TOKEN_LENGTH
 * (64 KiB) as invalid_token: 401. 600 group DNs of ~90 characters make a ~54 KB labels claim, a
 * ~75 KB token. The page's 401 is then read as "wrong credentials".
 *
 * Suggested fix: let the page pass the caller it already authenticated (account and labels) to
 * the listing instead of round-tripping through a signed token and verifyCatalogToken (or skip
 * the length bound for the in-process call); keep the 64 KiB bound for tokens that arrive over
 * HTTP. If a bound is wanted for the page too, document it and answer it with a message that
 * does not ask for the password again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
const password = randomPassword();
let registry: Server;
let srv: TestServer;

/** 600 Active Directory-style group DNs of about 90 characters each. */
const groups = Array.from(
  { length: 600 },
  (_, i) =>
    `CN=GRP-APP-${String(i).padStart(4, '0')}-Readers-Production,OU=Security Groups,OU=Groups,DC=corp,DC=example,DC=com`,
);

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"repositories":["private/x","public/a"]}');
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const port = (registry.address() as AddressInfo).port;
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [reg]
users:
  alice:
    password: "${hash(password)}"
    labels:
      group: ${JSON.stringify(groups)}
acl:
  - match: {name: "public/*"}
    actions: [pull]
catalog:
  registry_url: http://127.0.0.1:${port}
  realm: http://127.0.0.1/auth
`,
  });
});
afterAll(async () => {
  await srv.server.close(100);
  await new Promise((r) => registry.close(r));
  tmp.cleanup();
});

test('the registry page lists the repositories of an account in 600 groups (its token is read inside regauth)', async () => {
  // The password is right: the token endpoint accepts it.
  const token = await fetch(`${srv.url}/auth?service=reg&scope=repository:public/a:pull`, {
    headers: { authorization: basic('alice', password) },
  });
  expect(token.status).toBe(200);

  const res = await fetch(`${srv.url}/ui/`, { headers: { authorization: basic('alice', password) } });
  const page = await res.text();
  // Today: 401, `WWW-Authenticate: Basic realm="registry"`, "authentication required".
  expect(res.headers.get('www-authenticate')).toBeNull();
  expect(res.status).toBe(200);
  expect(page).toContain('public/a');
  expect(page).not.toContain('private/x');
});
