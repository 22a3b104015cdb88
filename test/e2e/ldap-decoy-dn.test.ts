import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { startSlapd, type Slapd } from './harness/slapd.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

// docs/security.md "User enumeration": a made-up name and a real name with a wrong password get
// the same answer. For a made-up name regauth binds a decoy DN built from the filter's first
// account term (`sAMAccountName=regauth-decoy-…,<base>`). A filter written for both AD and
// OpenLDAP names sAMAccountName first; OpenLDAP answers a bind to a DN whose attribute it does not
// know, or whose value its syntax refuses (uidNumber=…), with invalidDNSyntax (34), which
// 4d95075 turned from a refusal into an outage: 503 for every made-up name, 401 for real ones.
// Found by a review of that change, against a real slapd.

const tmp = tempDir();
let slapd: Slapd;
let runtime: Runtime;

beforeAll(async () => {
  slapd = await startSlapd({
    dir: join(tmp.dir, 'slapd'),
    ldif:
      'dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n' +
      'dn: uid=alice,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: alice\ncn: a\nsn: a\n' +
      `userPassword: ${randomPassword()}\n`,
  });
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  writeFileSync(join(tmp.dir, 'bind-pw'), slapd.rootPassword);
  const yaml =
    `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n` +
    `ldap_auth:\n  addr: "127.0.0.1:${slapd.port}"\n  bind_dn: "${slapd.rootDn}"\n  bind_password_file: bind-pw\n` +
    '  base: "dc=example,dc=org"\n  filter: "(|(sAMAccountName=${account})(uid=${account}))"\n' +
    'acl: [{match: {}, actions: [pull]}]\n';
  runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }));
}, 30_000);
afterAll(async () => {
  for (const a of runtime?.authenticators ?? []) await a.close?.();
  await runtime?.verifier.close?.();
  await slapd?.stop();
  tmp.cleanup();
});

const answer = (account: string, password: string) =>
  issueToken(
    runtime,
    parseTokenRequest({
      method: 'GET',
      query: 'service=reg&scope=repository:x:pull',
      authorization: basic(account, password),
    }),
    { ip: '192.0.2.1', now: Math.floor(Date.now() / 1000) },
  ).then(
    () => 'granted',
    (e: unknown) => `${(e as Error).constructor.name}`,
  );

test('a made-up name gets the answer a real name with a wrong password gets, whatever attribute the filter names first', async () => {
  const answers = {
    realWrongPassword: await answer('alice', randomPassword()),
    madeUp: await answer('nobody-here', randomPassword()),
  };
  expect(answers.madeUp).toBe(answers.realWrongPassword);
});
