import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { UnauthorizedError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { checkAccess } from '../../src/tools/check.js';
import { peopleDirectory, SERVICE_DN } from '../helpers/fake-ldap.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

// The account a backend hands back (a directory's stored spelling, for a login typed otherwise) is
// held to the token endpoint's rule for account names as the typed one is. Found by a review: an
// entry found by its mail `admin` whose uid is `admin\u3164` (a Hangul filler, which renders as
// nothing) got a token, and a refresh token, for `admin\u3164`; through it, a users: key of that
// name (which validate says can never log in) was asked again and logged in.

const NOW = 1_800_000_000;
const tmp = tempDir();
const staticPassword = randomPassword();
let runtime: Runtime;
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  writeFileSync(join(tmp.dir, 'refresh.key'), randomBytes(48).toString('base64'));
  const { directory, section } = peopleDirectory(tmp.dir, [
    { uid: 'admin\u3164', mail: 'admin', password: 'pw' },
    { uid: 'ghost\u3164', mail: 'ghost', password: staticPassword },
    { uid: 'alice', mail: 'alice@example.org', password: 'pw' },
  ]);
  const yaml =
    `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  refresh:\n    secret_file: refresh.key\n` +
    `users:\n  "ghost\\u3164": {password: "${hash(staticPassword)}"}\n` +
    section +
    `acl:\n  - match: {account: "/.+/", name: "\${account}/*"}\n    actions: [pull, push]\n  - match: {account: "/.+/"}\n    actions: [pull]\n`;
  runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }), {
    ldapClient: directory.factory,
  });
});
afterAll(() => tmp.cleanup());

const login = (account: string, password: string) =>
  issueToken(
    runtime,
    parseTokenRequest({
      method: 'GET',
      query: 'service=reg&offline_token=true&scope=repository:alice/app:pull,push',
      authorization: basic(account, password),
    }),
    { ip: null, now: NOW },
  );

test('a directory spelling the name rule refuses gets no token (nor refresh token)', async () => {
  const err = await login('admin', 'pw').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnauthorizedError);
  expect((err as UnauthorizedError).decision).toMatchObject({
    authenticator: 'ldap_auth',
    reason: 'the backend holds the account under a name the token endpoint refuses',
  });
});

test('nor does an earlier backend asked again under that spelling', async () => {
  // ldap_auth finds ghost\u3164 for `ghost`; users: holds ghost\u3164 with the same password and
  // was asked again under it: it logged in, by users.
  expect(await login('ghost', staticPassword).catch((e: unknown) => e)).toBeInstanceOf(UnauthorizedError);
});

test('a valid stored spelling still logs in under it', async () => {
  const result = await login('alice@example.org', 'pw');
  expect(result).toMatchObject({ account: 'alice', authenticatedBy: 'ldap_auth' });
  expect(result.access).toEqual([{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }]);
});

test('regauth check --password-stdin decides for the stored spelling, as the token endpoint does', async () => {
  // It decided for the typed name: pull only on alice/app, where the endpoint grants push too.
  const checked = await checkAccess(runtime, {
    account: 'alice@example.org',
    scopes: ['repository:alice/app:push,pull'],
    service: 'reg',
    password: new Secret('pw'),
  });
  expect(checked).toMatchObject({ outcome: 'checked', scopes: [{ granted: ['pull', 'push'] }] });
});

test('a login the chain refuses after respelling is not remembered as a success', async () => {
  // Found by a review of 470ca9d: a directory found alice for alice@example.org and accepted its
  // password; users:, asked again under alice, refused it (another password there). The chain
  // answered denied, but the directory's credential cache held its success: the next try with
  // that password skipped the directory's bind and took the cached path past the login queue and
  // the lockout's reservation, which a wrong password never gets. Two tries told the directory
  // password was right.
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const { directory: dir, section } = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password: 'dir-pw' },
  ]);
  const rt = createRuntime(
    loadConfigText(
      `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n` +
        `users:\n  alice: {password: "${hash(staticPassword)}"}\n` +
        section +
        `acl:\n  - match: {account: "/.+/"}\n    actions: [pull]\n`,
      { file: join(tmp.dir, 'config.yml') },
    ),
    { ldapClient: dir.factory },
  );
  const attempt = () =>
    issueToken(
      rt,
      parseTokenRequest({
        method: 'GET',
        query: 'service=reg',
        authorization: basic('alice@example.org', 'dir-pw'),
      }),
      { ip: null, now: NOW },
    ).catch((e: unknown) => e);
  expect(await attempt()).toBeInstanceOf(UnauthorizedError);
  expect(rt.cached({ account: 'alice@example.org', password: new Secret('dir-pw') })).toBe(false);
  const userBinds = () => dir.binds.filter((b) => b.dn !== SERVICE_DN).length;
  const before = userBinds();
  expect(await attempt()).toBeInstanceOf(UnauthorizedError);
  // The retry paid the directory's bind again, as a wrong password does.
  expect(userBinds()).toBe(before + 1);
});
