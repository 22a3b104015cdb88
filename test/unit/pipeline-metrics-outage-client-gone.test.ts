import { request } from 'node:http';
import { OperationsError } from 'ldapts';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import type { LdapClient } from '../../src/authn/ldap/connection.js';
import { createMetrics, instrumentAuthenticator } from '../../src/pipeline/metrics.js';
import { peopleDirectory, SERVICE_DN, type FakeDirectory } from '../helpers/fake-ldap.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Found by a review of a0c2dea, which took any 5xx for a client already gone as a cancelled run.
 * docs/operations.md: "`cancelled`: the client hung up while its login or
 * decision was under way (an `ext_auth` or `ext_authz` run), and the run was cancelled". The code
 * (token.ts `cancelled = status >= 500 && signal?.aborted`, metrics.ts `credentials.signal?.aborted`)
 * applies it to any 5xx of any backend once the client has gone. With ext_authz configured (so a
 * request has a signal), an LDAP directory failing on its own (here: a user bind answered
 * operationsError, an outage, docs/backends/ldap.md) is recorded as `cancelled` at info level and
 * never counted in regauth_authenticator_errors_total{backend="ldap_auth"}, as soon as the client (or a
 * proxy's timeout) gave up first. A directory that is slow *and* failing (the usual outage) is
 * exactly the one clients give up on: the outage disappears from the error log and the alert.
 * Nothing of the LDAP work was cancelled: it ran to its failure. Only a run cancelled for the
 * client's signal (CancelledError) is `cancelled` now.
 */
const tmp = tempDir();
const metrics = createMetrics();
let srv: TestServer;
let directory: FakeDirectory;
let gate: Promise<void> | undefined;
let release: (() => void) | undefined;
let binding = 0;
const alicePassword = randomPassword();

beforeAll(async () => {
  const people = peopleDirectory(tmp.dir, [
    { uid: 'alice', mail: 'alice@example.org', password: alicePassword },
  ]);
  directory = people.directory;
  const factory = (options: Parameters<FakeDirectory['factory']>[0]): LdapClient => {
    const client = directory.factory(options);
    const bind = client.bind.bind(client);
    (client as { bind: LdapClient['bind'] }).bind = (async (dn: string, password: string) => {
      if (dn === SERVICE_DN) return bind(dn, password);
      binding++;
      if (gate) await gate;
      // The directory's own failure, whatever the client does meanwhile.
      throw new OperationsError('internal failure');
    }) as LdapClient['bind'];
    return client;
  };
  srv = await startTestServer({
    dir: tmp.dir,
    runtimeDeps: { ldapClient: factory, instrument: (a) => instrumentAuthenticator(a, metrics) },
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
${people.section}ext_authz: {command: /bin/true}
acl: [{match: {}, actions: [pull]}]
`,
    server: { metrics },
  });
});
afterAll(async () => {
  release?.();
  await srv.server.close(100);
  tmp.cleanup();
});

async function ldapErrors(): Promise<number> {
  const { values } = await metrics.authnErrors.get();
  return values.find((v) => v.labels['backend'] === 'ldap_auth')?.value ?? 0;
}

const auditLines = () =>
  srv.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['account'] === 'alice');

test('control: the LDAP outage answered to a client that waits is unavailable, at error level, and counted', async () => {
  const res = await fetch(`${srv.url}/auth?service=registry`, {
    headers: { authorization: basic('alice', alicePassword) },
  });
  await res.arrayBuffer();
  expect(res.status).toBe(503);
  expect(await ldapErrors()).toBe(1);
  const line = auditLines().at(-1)!;
  expect({ outcome: line['outcome'], level: line['level'] }).toEqual({ outcome: 'unavailable', level: 50 });
});

test('the same LDAP outage, the client having hung up first, is still the backend failing (counted, error level)', async () => {
  const before = await ldapErrors();
  const seen = auditLines().length;
  gate = new Promise<void>((r) => (release = r));
  const startedBinds = binding;
  const url = new URL(`${srv.url}/auth?service=registry`);
  const req = request({
    host: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { authorization: basic('alice', alicePassword) },
  });
  req.on('error', () => undefined);
  req.end();
  await vi.waitFor(() => expect(binding).toBe(startedBinds + 1));
  // The client (or HAProxy's timeout server) gives up; the directory then fails on its own.
  req.destroy();
  await new Promise((r) => setTimeout(r, 100));
  release!();
  gate = undefined;
  await vi.waitFor(() => expect(auditLines().length).toBe(seen + 1));
  const line = auditLines().at(-1)!;
  expect({
    ldapErrors: (await ldapErrors()) - before,
    outcome: line['outcome'],
    level: line['level'],
  }).toEqual({ ldapErrors: 1, outcome: 'unavailable', level: 50 });
});
