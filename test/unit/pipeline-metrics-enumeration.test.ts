import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { UnauthorizedError } from '../../src/core/errors.js';
import { createMetrics, instrumentAuthenticator, type Metrics } from '../../src/pipeline/metrics.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { peopleDirectory } from '../helpers/fake-ldap.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { authnObserved } from '../helpers/metrics.js';

// Found by a review. docs/security.md "User enumeration": a failed login must not
// tell whether the account exists, "not by /metrics"; `regauth_authenticator_duration_seconds`
// and `regauth_authenticator_errors_total` observe a backend when it "could not answer".
//
// While ext_auth (or ldap_auth) cannot answer, a made-up name reaches the backend's
// `authenticate`, which the metrics wrapper (instrumentAuthenticator) sees throw: the backend's
// error counter goes up. A static user's wrong password meets the same outage through the
// backend's `decoy` (WithheldDenialError, also 503), which the wrapper does not see: no error is
// counted. So one request and one scrape of /metrics tell a static (break-glass) user from a
// made-up name, on the first try, where the lockout only tells them apart after max_failures.

const tmp = tempDir('regauth-metrics-decoy-');
let metrics: Metrics;
let s: TestServer;

beforeAll(async () => {
  metrics = createMetrics();
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  breakglass: {password: "${hash(randomPassword())}"}
ext_auth: {command: /bin/false}
credential_cache: {ttl: 0}
acl: [{match: {}, actions: [pull]}]
`,
    runtimeDeps: {
      // The command's own backing store is down: it cannot answer anyone (exit 3).
      runCommand: async () => ({ code: 3, signal: null, stdout: '', stderr: 'db unreachable' }),
      instrument: (a) => instrumentAuthenticator(a, metrics),
    },
  });
});
afterAll(async () => {
  await s.server.close(100);
  tmp.cleanup();
});

/** regauth_authenticator_errors_total{backend="ext_auth"} as /metrics shows it. */
async function extErrors(): Promise<number> {
  const { values } = await metrics.authnErrors.get();
  return values.find((v) => v.labels.backend === 'ext_auth')?.value ?? 0;
}

const login = async (account: string) =>
  (
    await fetch(`${s.url}/auth?service=registry`, {
      headers: { authorization: basic(account, 'a-wrong-password') },
    })
  ).status;

test('a static user and a made-up name move /metrics alike while ext_auth is down', async () => {
  const before = await extErrors();
  expect(await login('breakglass')).toBe(503);
  const afterKnown = await extErrors();
  expect(await login('nobody-at-all')).toBe(503);
  const afterMadeUp = await extErrors();
  // Each failed login must add the same to the backend's error count, whoever it names.
  expect(afterKnown - before).toBe(afterMadeUp - afterKnown);
  // And the time those errors took is observed for both.
  const errorTimes = () => authnObserved(metrics, 'ext_auth', 'error');
  const timesBefore = await errorTimes();
  expect(await login('breakglass')).toBe(503);
  const timesAfterKnown = await errorTimes();
  expect(await login('nobody-else')).toBe(503);
  expect(timesAfterKnown - timesBefore).toBe((await errorTimes()) - timesAfterKnown);
  expect(timesAfterKnown - timesBefore).toBe(1);
});

// Found by a later review. The wrapper observed `result="authenticated"` as soon as a backend said
// so, before the chain decided. A directory that finds alice for `alice@example.org` and accepts
// the password, while users: (asked again under alice, src/authn/chain.ts) refuses it, is a
// refused login (401) that still moved `{backend="ldap_auth",result="authenticated"}`; a wrong
// directory password did not. One refused login and one scrape told that the directory password
// was right, which the credential cache was fixed not to tell (authn-stored-names.test.ts). The
// same for an entry whose stored spelling the name rule refuses (`admin` found as `admin\u3164`).
describe("a backend's success the chain refuses", () => {
  const NOW = 1_800_000_000;
  const dir = tempDir('regauth-metrics-refused-');
  const local = { metrics: createMetrics(), runtime: undefined as Runtime | undefined };

  beforeAll(async () => {
    const { keyPath, certPath } = await writeSigningKey(dir.dir);
    const { directory, section } = peopleDirectory(dir.dir, [
      { uid: 'alice', mail: 'alice@example.org', password: 'dir-pw' },
      { uid: 'bob', mail: 'bob@example.org', password: 'bob-dir-pw' },
      { uid: 'admin\u3164', mail: 'admin', password: 'admin-dir-pw' },
    ]);
    local.runtime = createRuntime(
      loadConfigText(
        `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n` +
          // The break-glass static alice has another password than the directory's alice.
          `users:\n  alice: {password: "${hash(randomPassword())}"}\n` +
          section +
          `credential_cache: {ttl: 0}\n` +
          `acl:\n  - match: {account: "/.+/"}\n    actions: [pull]\n`,
        { file: join(dir.dir, 'config.yml') },
      ),
      { ldapClient: directory.factory, instrument: (a) => instrumentAuthenticator(a, local.metrics) },
    );
  });
  afterAll(() => dir.cleanup());

  const attempt = (account: string, password: string) =>
    issueToken(
      local.runtime!,
      parseTokenRequest({ method: 'GET', query: 'service=reg', authorization: basic(account, password) }),
      { ip: null, now: NOW },
    ).then(
      () => 'granted',
      (e: unknown) => (e instanceof UnauthorizedError ? 'refused' : String(e)),
    );

  const ldapSuccesses = () => authnObserved(local.metrics, 'ldap_auth', 'authenticated');

  /** What one login adds to the directory's success count, and how it was answered. */
  async function moved(account: string, password: string): Promise<[string, number]> {
    const before = await ldapSuccesses();
    const answer = await attempt(account, password);
    return [answer, (await ldapSuccesses()) - before];
  }

  test('a refused login moves /metrics alike whether the directory password was right or not', async () => {
    expect(await moved('alice@example.org', 'not-the-password')).toEqual(['refused', 0]);
    expect(await moved('nobody@example.org', 'dir-pw')).toEqual(['refused', 0]);
    // Refused (users: decides for alice): not the directory's success.
    expect(await moved('alice@example.org', 'dir-pw')).toEqual(['refused', 0]);
    expect(await moved('admin', 'not-the-password')).toEqual(['refused', 0]);
    expect(await moved('admin', 'admin-dir-pw')).toEqual(['refused', 0]);
  });

  test("the directory's success is counted when it is the answer", async () => {
    expect(await moved('bob', 'bob-dir-pw')).toEqual(['granted', 1]);
    // Found under another spelling and answered by the directory (no earlier backend holds bob).
    expect(await moved('bob@example.org', 'bob-dir-pw')).toEqual(['granted', 1]);
  });
});
