import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeJwt } from 'jose';
import { basic, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

/**
 * docs/backends/ci-identity.md: a Kubernetes service-account token names its account only in
 * `sub` (`system:serviceaccount:NAMESPACE:NAME`), whose colons a Basic user name cannot carry, so
 * it logs in through the POST password grant, and not through Basic credentials. Found by a
 * review of jwt_auth: the docs listed such tokens as supported without saying how.
 */
const SUB = 'system:serviceaccount:ci:builder';
const tmp = tempDir();
let issuer: TestIssuer;
let s: TestServer;

beforeAll(async () => {
  issuer = await startTestIssuer();
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
jwt_auth:
  issuers:
    - issuer: ${issuer.url}
      audience: registry.test
      required_claims: {sub: "${SUB}"}
acl:
  - match: {account: "${SUB}", name: "ci/*"}
    actions: [pull, push]
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  await issuer.stop();
  tmp.cleanup();
});

test('the POST password grant logs the service account in, by its sub', async () => {
  const token = await issuer.sign({ sub: SUB, aud: 'registry.test' });
  const res = await fetch(`${s.url}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'password',
      username: SUB,
      password: token,
      scope: 'repository:ci/app:push',
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string };
  expect(decodeJwt(body.access_token)).toMatchObject({
    sub: SUB,
    access: [{ type: 'repository', name: 'ci/app', actions: ['push'] }],
  });
});

test('Basic credentials cannot carry it: the user name ends at the first colon', async () => {
  const token = await issuer.sign({ sub: SUB, aud: 'registry.test' });
  const res = await fetch(`${s.url}/auth?scope=repository:ci/app:push`, {
    headers: { authorization: basic(SUB, token) },
  });
  expect(res.status).toBe(401);
});
