import { request } from 'node:http';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { CommandFailure, type RunRequest } from '../../src/ext/command.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of 35ae342. docs/operations.md: "`cancelled`: the client hung up while its login or
 * decision was under way in an `ext_auth` or `ext_authz` run, and the run was cancelled; logged at
 * info level". A static user's wrong password runs ext_auth's decoy (src/authn/chain.ts
 * decoysAfter); when the client hangs up during it, the decoy's CancelledError is wrapped in a
 * WithheldDenialError, which is not a CancelledError: the request is `unavailable`, at error
 * level, while the same hang-up for a made-up name (whose ext_auth run is cancelled the same way)
 * is `cancelled` at info level. Before 35ae342 both were `cancelled` (503 with the signal aborted).
 * So one client's hang-ups raise outcome="unavailable" and error lines, and the audit log and
 * regauth_token_requests_total tell a static user's name from a made-up one.
 */
const tmp = tempDir('regauth-decoy-cancelled-');
const metrics = createMetrics();
const started: RunRequest[] = [];
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(randomPassword())}"}
ext_auth: {command: /bin/true, timeout: 30}
acl: [{match: {}, actions: [pull]}]
`,
    runtimeDeps: {
      // As spawnRunner: a run ends only when its signal aborts, with CommandFailure('cancelled').
      runCommand: (req) => {
        started.push(req);
        return new Promise((_resolve, reject) => {
          req.signal?.addEventListener('abort', () => reject(new CommandFailure('cancelled')), {
            once: true,
          });
        });
      },
    },
    server: { metrics },
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

const audit = () =>
  srv.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['requestId'] !== undefined && l['outcome'] !== undefined);

/** Sends a login for `account`, hangs up once its ext_auth run started; its audit line. */
async function hangUp(account: string): Promise<Record<string, unknown>> {
  const seen = audit().length;
  const runs = started.length;
  const url = new URL(`${srv.url}/auth?service=registry`);
  const req = request({
    host: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { authorization: basic(account, 'wrong-password') },
  });
  req.on('error', () => undefined);
  req.end();
  await vi.waitFor(() => expect(started.length).toBe(runs + 1), { timeout: 10_000 });
  req.destroy();
  await vi.waitFor(() => expect(audit().length).toBe(seen + 1), { timeout: 10_000 });
  return audit().at(-1)!;
}

test('control: a made-up name whose client hangs up during its ext_auth run is cancelled, at info level', async () => {
  const line = await hangUp('nobody');
  expect({ outcome: line['outcome'], level: line['level'] }).toEqual({ outcome: 'cancelled', level: 30 });
});

test("a static user's wrong password whose client hangs up during ext_auth's decoy run is cancelled as well", async () => {
  const line = await hangUp('alice');
  expect({ outcome: line['outcome'], level: line['level'] }).toEqual({ outcome: 'cancelled', level: 30 });
});

test('regauth_token_requests_total does not tell the two hang-ups apart', async () => {
  const byOutcome = Object.fromEntries(
    (await metrics.tokenRequests.get()).values.map((v) => [v.labels['outcome'], v.value]),
  );
  expect(byOutcome).toEqual({ cancelled: 2 });
});
