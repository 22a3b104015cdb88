import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { Secret } from '../../src/core/secret.js';
import { UiSessions } from '../../src/oidc/session.js';
import { startService, type Service } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';
import { startTestProvider, type TestProvider } from '../helpers/test-provider.js';

// docs/catalog.md: signing out revokes the session "so a copy of the cookie no longer opens
// the page". A session that a lowered catalog.ui_session has ended (51db5eb) is signed out
// without any revocation being stored; raising ui_session again opens it anew, copies included.
// Signing out of a session that a lowered ui_session had already ended recorded nothing, though the
// page said "You have signed out": raised again, the lifetime let a copy of that cookie open the
// page. Found by a review.
const tmp = tempDir();
const now = () => Math.floor(Date.now() / 1000);
const secret = randomBytes(48).toString('base64');
let provider: TestProvider;
let service: Service;
let write: (uiSession: string) => void;

beforeAll(async () => {
  provider = await startTestProvider('https://auth.example/oidc/callback');
  const keys = await writeSigningKey(tmp.dir);
  const secretFile = join(tmp.dir, 'oidc.secret');
  writeFileSync(secretFile, secret);
  const configFile = join(tmp.dir, 'config.yml');
  write = (uiSession) =>
    writeFileSync(
      configFile,
      `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keys.keyPath}
  certificate: ${keys.certPath}
  services: [registry.example]
oidc_auth:
  issuer: ${provider.url}
  client_id: ${provider.clientId}
  client_secret: ${provider.clientSecret}
  redirect_url: https://auth.example/oidc/callback
  registry_url: registry.example
  secret_file: ${secretFile}
catalog:
  registry_url: http://127.0.0.1:9
  realm: https://registry.example/auth
  timeout: 1
  ui_session: ${uiSession}
acl:
  - match: {account: alice}
    actions: [pull]
`,
    );
  write('24h');
  service = await startService({
    configFile,
    logger: createLogger({ destination: logSink().stream, format: 'json' }),
    watch: false,
  });
});
afterAll(async () => {
  await service.close(100);
  await provider.stop();
  tmp.cleanup();
});

test('a sign-out while a lowered ui_session has ended the session holds once it is raised again', async () => {
  // A two-hour-old session, sealed for 24 hours; a copy of its cookie is elsewhere.
  const { cookie } = await new UiSessions(new Secret(secret)).seal('alice', {}, now() - 7200, 86_400);
  const headers = { cookie: `__Host-regauth_ui=${cookie}` };
  const page = async () =>
    (await fetch(`${service.url}/ui/repository?name=team/app`, { headers, redirect: 'manual' })).status;
  expect(await page()).toBe(503); // open (the registry is not there)

  write('1h');
  await service.reload();
  expect(await page()).toBe(303);
  // The user signs out: told so, the cookie cleared.
  const out = await fetch(`${service.url}/ui/signout`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'csrf=x',
    redirect: 'manual',
  });
  expect(out.status).toBe(200);
  expect(await out.text()).toContain('You have signed out');

  write('24h');
  await service.reload();
  // The copy of the signed-out cookie.
  expect(await page()).toBe(303);
});
