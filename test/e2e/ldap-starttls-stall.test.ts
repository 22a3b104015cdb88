import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../src/authn/ldap/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword, tempDir } from '../helpers/fixtures.js';
import { startSlapd, type Slapd } from './harness/slapd.js';

/**
 * Found by a review: a StartTLS handshake that never completed was bounded by no timeout. ldapts'
 * `startTLS` sends the extended operation (bounded by `operation_timeout`), then waited for the
 * TLS `secureConnect` with no timer (`connect_timeout` covered only the TCP connect), so:
 *
 * - for the service connection, the pending connection attempt was kept and shared by every
 *   later request: ldap_auth answered 503 for good, even once the directory was healthy again;
 * - for a session connection (the user's bind), its `max_concurrency` slot was never given back:
 *   after that many stalls every login was refused with "too many concurrent directory requests".
 *
 * The stall is made by a TCP relay in front of a real slapd that passes the StartTLS answer and
 * then swallows the TLS ClientHello of one connection (a middlebox or directory that stalls at
 * the wrong moment); every later connection is relayed normally.
 */

const SUFFIX = 'dc=example,dc=org';
const pw = { alice: randomPassword(), svc: randomPassword() };
const tmp = tempDir('regauth-ldap-stall-');
let slapd: Slapd;
let relay: { port: number; stallNext: () => void; close: () => void };

/** A relay to `upstream`; the connection after stallNext() goes silent after the server's first answer. */
function startRelay(upstream: number): Promise<typeof relay> {
  let stall = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect(upstream, '127.0.0.1');
    sockets.add(client).add(up);
    const stallThis = stall > 0;
    if (stallThis) stall--;
    let silent = false;
    client.on('data', (d) => {
      if (!silent) up.write(d);
    });
    up.on('data', (d) => {
      if (silent) return;
      client.write(d);
      // The StartTLS "success" reached the client; its ClientHello and everything after is dropped.
      if (stallThis) silent = true;
    });
    for (const s of [client, up]) s.on('error', () => undefined);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        stallNext: () => void stall++,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      });
    });
  });
}

beforeAll(async () => {
  const person = (uid: 'alice' | 'svc', ou: string) =>
    `dn: uid=${uid},ou=${ou},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\n` +
    `userPassword: ${pw[uid]}\n`;
  slapd = await startSlapd({
    dir: join(tmp.dir, 'slapd'),
    tls: true,
    ldif: [
      `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
      `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
      person('alice', 'people'),
      person('svc', 'services'),
    ].join('\n'),
  });
  relay = await startRelay(slapd.port);
}, 60_000);
afterAll(async () => {
  relay?.close();
  await slapd?.stop();
  tmp.cleanup();
});

function make(section: Record<string, unknown>): LdapAuthenticator {
  const config = compileLdapConfig(ldapAuthSchema.parse(section), {
    at: (p) => p,
    readFile: (yamlPath, p) =>
      yamlPath === 'ldap_auth.bind_password_file' ? pw.svc : readFileSync(p, 'utf8'),
  });
  return new LdapAuthenticator(config);
}

const common = () => ({
  addr: `127.0.0.1:${relay.port}`,
  tls: 'starttls',
  ca_certificate: slapd.ca!.caPath,
  base: `ou=people,${SUFFIX}`,
  filter: '(&(objectClass=inetOrgPerson)(uid=${account}))',
  connect_timeout: 1,
  operation_timeout: 1,
});

const alice = () => ({ account: 'alice', password: new Secret(pw.alice) });

describe('a stalled StartTLS handshake', () => {
  test('while the service connection opens: that login is 503, the next ones are answered', async () => {
    const a = make({
      ...common(),
      bind_dn: `uid=svc,ou=services,${SUFFIX}`,
      bind_password_file: 'bind-password',
    });
    relay.stallNext();
    // The stalled login itself is a 503 (connect_timeout is 1 s here).
    await expect(a.authenticate(alice())).rejects.toThrow(BackendUnavailableError);
    // The directory and the network are healthy from now on: a fresh authenticator gets in.
    await sleep(3000);
    const control = make({
      ...common(),
      bind_dn: `uid=svc,ou=services,${SUFFIX}`,
      bind_password_file: 'bind-password',
    });
    expect((await control.authenticate(alice())).outcome).toBe('authenticated');
    await control.close();
    const after = await a.authenticate(alice()).then(
      (r) => r.outcome,
      (err: Error) => `503: ${err.message}`,
    );
    expect(after).toBe('authenticated');
    await a.close();
  }, 30_000);

  test('on a user session: its max_concurrency slot is given back', async () => {
    const a = make({
      ...common(),
      initial_bind_as_user: true,
      bind_dn: `uid=\${account},ou=people,${SUFFIX}`,
      max_concurrency: 1,
    });
    relay.stallNext();
    await expect(a.authenticate(alice())).rejects.toThrow(BackendUnavailableError);
    await sleep(3000);
    const after = await a.authenticate(alice()).then(
      (r) => r.outcome,
      (err: Error) => `503: ${err.message}`,
    );
    expect(after).toBe('authenticated');
    await a.close();
  }, 30_000);
});
