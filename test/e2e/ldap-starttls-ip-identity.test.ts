/**
 * Found by a review of ldap_auth (docs/backends/ldap.md, `tls: starttls`): with StartTLS to an IP address,
 * the directory's certificate is checked against the name "localhost", not against the address
 * in `addr`.
 *
 * LdapConnections#open gives tls.connect no `servername` for an IP address (SNI is for names)
 * and ldapts' startTLS passes only `{ socket, ...tlsOptions }`, no `host`. Node then checks the
 * certificate's identity against `options.servername || options.host || socket._host ||
 * 'localhost'`, and net.Socket sets `_host` only for host names, never for an IP address. So
 * with `addr: "10.0.0.5:389"` and `tls: starttls`:
 *
 * - a certificate for 10.0.0.5 (IP SAN), which is right for that address and which LDAPS
 *   (`tls: always`, where ldapts passes the host) accepts, is refused: every login is a 503,
 *   where docker_auth (Go's crypto/tls checks the IP) works with the same config;
 * - any certificate for "localhost" that the trusted CA signed (a developer's or another
 *   service's certificate from the same internal CA) is accepted for 10.0.0.5: whoever holds one
 *   can stand in the middle, read every user's password from the bind and hand out any answer.
 *   `insecure_tls_skip_verify: false` is then no longer a hostname check.
 *
 * The harness's server certificate names both 127.0.0.1 and localhost, which hid this. Here the
 * same slapd is given, in turn, a certificate with only the IP SAN and one with only the DNS
 * name, both from the trusted test CA, and StartTLS is compared with LDAPS, whose check is right.
 *
 * Expected: StartTLS checks the certificate against the host in `addr`, as LDAPS does.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { LdapAuthenticator } from '../../src/authn/ldap/authenticator.js';
import { Secret } from '../../src/core/secret.js';
import { randomPassword } from '../helpers/fixtures.js';
import { aliceAndServiceLdif } from './harness/slapd.js';
import { useSlapd } from './harness/directory.js';
import { runCommand } from './harness/proc.js';

const SUFFIX = 'dc=example,dc=org';

describe('ldap_auth StartTLS to an IP address: the certificate is checked against that address', () => {
  const pw = { alice: randomPassword(), svc: randomPassword() };
  const directory = useSlapd({
    tmpPrefix: 'regauth-review-ldap-starttls-ip-',
    bindPassword: pw.svc,
    tls: true,
    ldif: aliceAndServiceLdif(SUFFIX, pw),
  });
  const { tmp } = directory;

  /** A server certificate from the harness's test CA with exactly `san`, put in place of slapd's. */
  async function serveCertificateFor(san: string): Promise<void> {
    const tls = join(tmp.dir, 'slapd', 'tls');
    const name = san.replace(/\W/g, '_');
    const run = async (args: string[]) => {
      const r = await runCommand('openssl', args, { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    await run([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=directory',
      '-keyout',
      join(tls, `${name}.key`),
      '-out',
      join(tls, `${name}.csr`),
    ]);
    writeFileSync(
      join(tls, `${name}.ext`),
      `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
    );
    await run([
      'x509',
      '-req',
      '-in',
      join(tls, `${name}.csr`),
      '-CA',
      join(tls, 'ca.crt'),
      '-CAkey',
      join(tls, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      join(tls, `${name}.ext`),
      '-out',
      join(tls, `${name}.crt`),
    ]);
    const slapd = directory.slapd;
    await slapd.stop();
    copyFileSync(join(tls, `${name}.crt`), slapd.ca!.certPath);
    copyFileSync(join(tls, `${name}.key`), slapd.ca!.keyPath);
    await slapd.start();
  }

  function make(tls: 'starttls' | 'always'): LdapAuthenticator {
    const slapd = directory.slapd;
    return directory.authenticator({
      addr: `127.0.0.1:${tls === 'always' ? slapd.ldapsPort : slapd.port}`,
      tls,
      ca_certificate: slapd.ca!.caPath,
      bind_dn: `uid=svc,${SUFFIX}`,
      bind_password_file: 'bind-password',
      base: `ou=people,${SUFFIX}`,
      filter: '(uid=${account})',
    });
  }

  const login = (a: LdapAuthenticator) =>
    a.authenticate({ account: 'alice', password: new Secret(pw.alice) }).then(
      (r) => r.outcome,
      (err: Error) => `503: ${err.message}`,
    );

  test('a certificate for the address only (IP:127.0.0.1): accepted with StartTLS as with LDAPS', async () => {
    await serveCertificateFor('IP:127.0.0.1');
    expect(await login(make('always'))).toBe('authenticated');
    expect(await login(make('starttls'))).toBe('authenticated');
  });

  test('a certificate for "localhost" only: refused for 127.0.0.1 with StartTLS as with LDAPS', async () => {
    await serveCertificateFor('DNS:localhost');
    expect(await login(make('always'))).toMatch(/^503: .*(altnames|IP: 127\.0\.0\.1)/);
    expect(await login(make('starttls'))).toMatch(/^503: .*(altnames|IP: 127\.0\.0\.1)/);
  });
});
