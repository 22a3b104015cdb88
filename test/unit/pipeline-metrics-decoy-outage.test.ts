import { afterAll, beforeAll, expect, test } from 'vitest';
import { createMetrics, instrumentAuthenticator, type Metrics } from '../../src/pipeline/metrics.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

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
  const errorTimes = async () =>
    (await metrics.authnDuration.get()).values.find(
      (v) =>
        v.metricName === 'regauth_authenticator_duration_seconds_count' &&
        v.labels.backend === 'ext_auth' &&
        v.labels.result === 'error',
    )?.value ?? 0;
  const timesBefore = await errorTimes();
  expect(await login('breakglass')).toBe(503);
  const timesAfterKnown = await errorTimes();
  expect(await login('nobody-else')).toBe(503);
  expect(timesAfterKnown - timesBefore).toBe((await errorTimes()) - timesAfterKnown);
  expect(timesAfterKnown - timesBefore).toBe(1);
});
