import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseScopes } from '../../src/request/scope.js';
import { checkAccess } from '../../src/tools/check.js';
import { runPolicyTests } from '../../src/tools/policy-test.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of 95f6677 (check.ts anonymousRefused): "Only a static `""` entry or ext_auth can log one
 * in". But a static `""` entry that holds a password does not log in an anonymous request
 * (src/authn/users.ts: `password === undefined` → denied `password required`): the token endpoint
 * answers 401, while `regauth test` passes `expect: [pull]` for the anonymous account and
 * `regauth check --account ''` reports the grant, since anonymousRefused only asks whether a
 * static backend holds `""` (known.from !== null), not whether that entry takes no password.
 * (users_file cannot hold `""`: parseHtpasswd refuses a line starting with `:`.)
 */
const tmp = tempDir('regauth-anon-passworded-');
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: (k) => `server: {addr: "127.0.0.1:0"}
token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
users:
  "": {password: "${hash(randomPassword())}"}
acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
`,
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('sanity: the token endpoint answers an anonymous request 401 when "" holds a password', async () => {
  const res = await fetch(`${srv.url}/auth?service=registry.test&scope=repository:public/base:pull`);
  await res.arrayBuffer();
  expect(res.status).toBe(401);
});

test('regauth test does not pass an anonymous expectation the endpoint refuses ("" with a password)', async () => {
  const [result] = await runPolicyTests(srv.runtime, [
    {
      path: '[0]',
      line: 1,
      account: '',
      scope: parseScopes(['repository:public/base:pull'])[0]!,
      expect: ['pull'],
      labels: undefined,
      service: undefined,
      ip: null,
      comment: undefined,
    },
  ]);
  expect({ passed: result!.passed, granted: result!.granted }).toEqual({ passed: false, granted: [] });
});

test('regauth check --account "" reports the 401, not a grant ("" with a password)', async () => {
  const result = await checkAccess(srv.runtime, { account: '', scopes: ['repository:public/base:pull'] });
  expect(result.outcome).toBe('unauthenticated');
});
