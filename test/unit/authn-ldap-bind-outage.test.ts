import { join } from 'node:path';
import {
  AdminLimitExceededError,
  OperationsError,
  TimeLimitExceededError,
  UnknownStatusCodeError,
} from 'ldapts';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { peopleDirectory, SERVICE_DN, type FakeDirectory } from '../helpers/fake-ldap.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

// docs/backends/ldap.md "Outcomes": a directory that cannot answer is an outage (503). 68229de
// made every result of a user bind but busy and unavailable a wrong password, so results that say
// nothing about the entry (the directory's own failure: operations error 1, time limit 3, admin
// limit 11, other 80) became 401 for everyone, right password or not, each counted by the
// lockout. Found by a review of that change.

const tmp = tempDir();
let runtime: Runtime;
let directory: FakeDirectory;
let failWith: (() => Error) | undefined;
const alicePassword = randomPassword();

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const people = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password: alicePassword },
  ]);
  directory = people.directory;
  const yaml =
    `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n` +
    people.section +
    'acl: [{match: {}, actions: [pull]}]\n';
  const factory = (options: Parameters<FakeDirectory['factory']>[0]): LdapClient => {
    const client = directory.factory(options);
    const bind = client.bind.bind(client);
    (client as { bind: LdapClient['bind'] }).bind = (async (dn: string, password: string) => {
      if (failWith && dn !== SERVICE_DN) throw failWith(); // user binds only
      return bind(dn, password);
    }) as LdapClient['bind'];
    return client;
  };
  runtime = createRuntime(loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') }), {
    ldapClient: factory,
  });
});
afterAll(async () => {
  for (const a of runtime.authenticators) await a.close?.();
  await runtime.verifier.close?.();
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
    (e: unknown) => (e as Error).constructor.name,
  );

test.each([
  ['operationsError (1)', () => new OperationsError('internal failure')],
  ['timeLimitExceeded (3)', () => new TimeLimitExceededError('time limit exceeded')],
  ['adminLimitExceeded (11)', () => new AdminLimitExceededError('admin limit exceeded')],
  ['other (80)', () => new UnknownStatusCodeError(80, 'internal error')],
])(
  'a user bind answered %s, whatever the password, is an outage (503), not a wrong password',
  async (_n, make) => {
    failWith = make;
    try {
      const answers = {
        rightPassword: await answer('alice', alicePassword),
        madeUp: await answer('nobody-here', randomPassword()),
      };
      expect(answers).toEqual({
        rightPassword: BackendUnavailableError.name,
        madeUp: BackendUnavailableError.name,
      });
    } finally {
      failWith = undefined;
    }
  },
);
