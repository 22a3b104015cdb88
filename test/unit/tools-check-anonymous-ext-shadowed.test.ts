import { afterAll, beforeAll, expect, test } from 'vitest';
import { checkAccess } from '../../src/tools/check.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A `""` users: entry with a password is asked before ext_auth and refuses a request without
 * credentials ("password required"): the endpoint answers 401, and check must agree, ext_auth or
 * not. (Checked by a review of 482ab69.)
 */
const tmp = tempDir('regauth-anon-ext-shadowed-');
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: (k) => `server: {addr: "127.0.0.1:0"}
token: {issuer: acme, key: ${k.keyPath}, certificate: ${k.certPath}, services: [registry.test]}
users:
  "": {password: "${hash(randomPassword())}"}
ext_auth: {command: /bin/true, timeout: 5}
acl:
  - match: {account: "", name: "public/**"}
    actions: [pull]
`,
    runtimeDeps: { runCommand: () => Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' }) },
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

test('endpoint and check agree for "" with a password in front of ext_auth', async () => {
  const res = await fetch(`${srv.url}/auth?service=registry.test&scope=repository:public/base:pull`);
  await res.arrayBuffer();
  const result = await checkAccess(srv.runtime, { account: '', scopes: ['repository:public/base:pull'] });
  expect({ status: res.status, outcome: result.outcome }).toEqual({
    status: 401,
    outcome: 'unauthenticated',
  });
});
