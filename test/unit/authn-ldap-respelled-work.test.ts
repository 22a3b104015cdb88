import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { UnauthorizedError } from '../../src/core/errors.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { peopleDirectory, type FakeDirectory } from '../helpers/fake-ldap.js';
import { median } from '../helpers/enumeration.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

// docs/security.md "User enumeration": a static break-glass `alice` and a directory `alice` (mail
// alice@example.org) with another password. A login typed as the alias with the directory's right
// password is refused (users: decides for alice under the stored spelling); it must cost what a
// wrong password for the alias costs, or its time tells that the directory password is right. The
// success ran the group search, one more directory round trip, which a wrong password never did:
// 42 against 2 ms here. Found by a review.

const GROUP_SEARCH_MS = 40;
const tmp = tempDir();
const directoryPassword = randomPassword();
let runtime: Runtime;
let directory: FakeDirectory;
let runtimeClose: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const people = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password: directoryPassword },
  ]);
  directory = people.directory;
  directory.entries.push({
    dn: 'cn=devs,ou=groups,dc=example,dc=org',
    attrs: { cn: 'devs', member: 'uid=alice,ou=people,dc=example,dc=org' },
  });
  const yaml =
    `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n` +
    `users:\n  alice: {password: "${hash(randomPassword())}"}\n` +
    people.section +
    '  group_search: {base: "ou=groups,dc=example,dc=org", filter: "(member=${dn})", label: groups}\n' +
    'acl: [{match: {}, actions: [pull]}]\n';
  const factory = (options: Parameters<FakeDirectory['factory']>[0]): LdapClient => {
    const client = directory.factory(options);
    const search = client.search.bind(client);
    (client as { search: LdapClient['search'] }).search = (async (base: string, opts: unknown) => {
      // A directory's group search takes a round trip like any other.
      if (base.startsWith('ou=groups')) await new Promise((r) => setTimeout(r, GROUP_SEARCH_MS));
      return search(base, opts as never);
    }) as LdapClient['search'];
    return client;
  };
  runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }), {
    ldapClient: factory,
  });
  runtimeClose = runtime.verifier.close?.bind(runtime.verifier);
});
afterAll(async () => {
  for (const a of runtime.authenticators) await a.close?.();
  await runtimeClose?.();
  tmp.cleanup();
});

const login = async (account: string, password: string): Promise<{ ms: number; searches: number }> => {
  const searchesBefore = directory.searches.length;
  const started = performance.now();
  const err = await issueToken(
    runtime,
    parseTokenRequest({
      method: 'GET',
      query: 'service=reg&scope=repository:x:pull',
      authorization: basic(account, password),
    }),
    { ip: '192.0.2.1', now: Math.floor(Date.now() / 1000) },
  ).catch((e: unknown) => e);
  const ms = performance.now() - started;
  expect(err).toBeInstanceOf(UnauthorizedError);
  return { ms, searches: directory.searches.length - searchesBefore };
};

test("a directory's right password refused under the stored spelling costs what a wrong one costs", async () => {
  const right: number[] = [];
  const wrong: number[] = [];
  let rightSearches = 0;
  let wrongSearches = 0;
  for (let i = 0; i < 30; i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true];
    for (const isRight of order) {
      const r = await login('alice@example.org', isRight ? directoryPassword : randomPassword());
      (isRight ? right : wrong).push(r.ms);
      if (isRight) rightSearches = r.searches;
      else wrongSearches = r.searches;
    }
  }
  const ratio = median(right) / median(wrong);
  expect(rightSearches).toBe(wrongSearches);
  expect(ratio).toBeLessThan(1.25);
});
