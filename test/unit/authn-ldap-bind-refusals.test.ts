import { join } from 'node:path';
import { BusyError, ConstraintViolationError, UnwillingToPerformError } from 'ldapts';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { BackendUnavailableError, UnauthorizedError } from '../../src/core/errors.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { peopleDirectory, SERVICE_DN, type FakeDirectory } from '../helpers/fake-ldap.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

// docs/security.md "User enumeration": a failed login does not tell whether the account exists.
// Directories answer a bind to an entry they hold locked or inactivated with a result of their
// own, whatever the password: 389-ds says unwillingToPerform (53) "Account inactivated" for
// nsAccountLock, and constraintViolation (19) "Exceed password retry limit" once its password
// policy locked the entry. regauth turned any result but 49 on a found entry into 503, where a
// made-up name got 401: the status told which names exist, and with the directory's own lockout
// a few wrong passwords made any name show it. Found by a review.
//
// A busy or unavailable directory (51, 52) did not decide: that stays an outage (503), for a
// made-up name too (its bind to the decoy DN used to swallow any result).

const tmp = tempDir();
let runtime: Runtime;
let directory: FakeDirectory;
let busy = false;

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const people = peopleDirectory(tmp.dir, [
    { uid: 'inactive', mail: 'inactive@example.org', password: randomPassword() },
    { uid: 'retries', mail: 'retries@example.org', password: randomPassword() },
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
      if (busy && dn !== SERVICE_DN) throw new BusyError('busy'); // user binds only
      // As 389-ds answers, before it looks at the password.
      if (dn.startsWith('uid=inactive,'))
        throw new UnwillingToPerformError('Account inactivated. Contact system administrator.');
      if (dn.startsWith('uid=retries,'))
        throw new ConstraintViolationError('Exceed password retry limit. Please try later.');
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

const refusal = (account: string) =>
  issueToken(
    runtime,
    parseTokenRequest({
      method: 'GET',
      query: 'service=reg&scope=repository:x:pull',
      authorization: basic(account, randomPassword()),
    }),
    { ip: '192.0.2.1', now: Math.floor(Date.now() / 1000) },
  ).then(
    () => 'granted',
    (e: unknown) => (e as Error).constructor.name,
  );

test("a wrong password for a locked or inactivated directory entry gets the made-up name's answer (401, not 503)", async () => {
  const madeUp = await refusal('nobody-here');
  expect(madeUp).toBe(UnauthorizedError.name);
  expect({ inactive: await refusal('inactive'), retries: await refusal('retries') }).toEqual({
    inactive: madeUp,
    retries: madeUp,
  });
});

test('a busy directory is an outage (503) for a known name and a made-up one alike', async () => {
  busy = true;
  try {
    const answers = { known: await refusal('inactive'), madeUp: await refusal('nobody-here') };
    expect(answers).toEqual({ known: BackendUnavailableError.name, madeUp: BackendUnavailableError.name });
  } finally {
    busy = false;
  }
});
