import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';

// A failed login's page offers "Sign in again". It linked `/oidc/login` whichever login failed: a
// registry page's login (started at /ui/) was sent to the app-password login instead, and the
// messages said "start again at /oidc/login" without the server's path prefix.

const tmp = tempDir();
let provider: TestProvider;
let t: TestServer;

beforeAll(async () => {
  provider = await startTestProvider('https://auth.example/regauth/oidc/callback');
  const secretFile = join(tmp.dir, 'oidc.secret');
  writeFileSync(secretFile, randomBytes(48).toString('base64'));
  t = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", path_prefix: /regauth}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.example]}
oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  redirect_url: https://auth.example/regauth/oidc/callback
  registry_url: registry.example
  secret_file: ${secretFile}
catalog: {registry_url: "http://127.0.0.1:9", realm: "https://registry.example/auth", timeout: 1}
acl: []
`,
  });
});
afterAll(async () => {
  await t.server.close(100);
  await provider.stop();
  tmp.cleanup();
});

/** Starts a login at `path` and comes back from the provider with `answer` (the query). */
async function failedLogin(path: string, answer: (state: string) => string): Promise<string> {
  const start = await fetch(`${t.url}${path}`, { redirect: 'manual' });
  expect(start.status).toBe(303);
  const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
  const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const res = await fetch(`${t.url}/regauth/oidc/callback?${answer(state)}`, { headers: { cookie } });
  expect(res.status).toBe(400);
  return res.text();
}

const signInAgain = (page: string) => /<a href="([^"]*)">Sign in again<\/a>/.exec(page)?.[1];

test("a registry page's failed login links back to the page", async () => {
  const page = await failedLogin('/regauth/ui/', (state) => `error=access_denied&state=${state}`);
  expect(signInAgain(page)).toBe('/regauth/ui/');
});

test("an app password's failed login links to its login, under the prefix", async () => {
  const page = await failedLogin('/regauth/oidc/login', (state) => `error=access_denied&state=${state}`);
  expect(signInAgain(page)).toBe('/regauth/oidc/login');
});

test('no message names a path without the prefix', async () => {
  const page = await failedLogin('/regauth/ui/', (state) => `code=not-a-code&state=${state}`);
  expect(signInAgain(page)).toBe('/regauth/ui/');
  expect(page).not.toMatch(/start again at \/oidc/);
});
