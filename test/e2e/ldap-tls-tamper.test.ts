/**
 * An attacker on the path between regauth and its directory (what `tls: always` / `starttls`
 * and `ca_certificate` guard against) must not be able to stop regauth. The directory's TLS
 * handshake is relayed with one stray record appended (test/e2e/harness/tamper.ts), which makes
 * node's TLS socket emit 'error' twice; a listener that hears only the first leaves the second
 * to be thrown uncaught, and `regauth serve` would die. Logins must fail (503), and serve live on.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { basic, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { selfSignedCert } from './harness/certs.js';
import { freePort } from './harness/ports.js';
import { startProcess, type ProcessHandle } from './harness/proc.js';
import { aliceAndServiceLdif, startSlapd, type Slapd } from './harness/slapd.js';
import { startTamperingRelay, type TamperingRelay } from './harness/tamper.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const SUFFIX = 'dc=example,dc=org';
const pw = { alice: randomPassword(), svc: randomPassword() };
const tmp = tempDir('regauth-ldap-tamper-');
let slapd: Slapd;
let otherCa: string;
const relays: TamperingRelay[] = [];
const running: ProcessHandle[] = [];

beforeAll(async () => {
  ensureBuilt();
  slapd = await startSlapd({
    dir: join(tmp.dir, 'slapd'),
    tls: true,
    ldif: aliceAndServiceLdif(SUFFIX, pw),
  });
  writeFileSync(join(tmp.dir, 'bind-password'), pw.svc, { mode: 0o600 });
  otherCa = (await selfSignedCert(tmp.dir, 'other', '/CN=other')).certPath;
}, 60_000);

afterAll(async () => {
  for (const p of running) await p.stop();
  for (const r of relays) await r.stop();
  await slapd?.stop();
  tmp.cleanup();
});

test.each([
  ['starttls', 'a certificate the ca_certificate did not sign'],
  ['starttls', 'the right certificate'],
  ['always', 'a certificate the ca_certificate did not sign'],
  ['always', 'the right certificate'],
] as const)(
  'tls: %s, a stray record after the handshake, %s: serve lives on, logins get 503',
  async (mode, which) => {
    // StartTLS: the directory's first answer is the StartTLS result, its TLS flight the second.
    const relay = await startTamperingRelay(
      mode === 'always' ? slapd.ldapsPort! : slapd.port,
      mode === 'always' ? 0 : 1,
    );
    relays.push(relay);
    const ca = which === 'the right certificate' ? slapd.ca!.caPath : otherCa;
    const { keyPath, certPath } = await writeSigningKey(tmp.dir, 'ES256');
    const port = await freePort();
    const config = join(tmp.dir, `config-${port}.yml`);
    writeFileSync(
      config,
      [
        `server: {addr: "127.0.0.1:${port}"}`,
        `token: {issuer: tamper, key: ${keyPath}, certificate: ${certPath}}`,
        'ldap_auth:',
        `  addr: "localhost:${relay.port}"`,
        `  tls: ${mode}`,
        `  ca_certificate: ${ca}`,
        `  bind_dn: uid=svc,${SUFFIX}`,
        `  bind_password_file: ${join(tmp.dir, 'bind-password')}`,
        `  base: ou=people,${SUFFIX}`,
        '  filter: (&(objectClass=inetOrgPerson)(uid=${account}))',
        '  connect_timeout: 2',
        '  operation_timeout: 2',
        'acl: [{match: {account: alice}, actions: ["*"]}]',
        '',
      ].join('\n'),
    );
    const token = () =>
      fetch(`http://127.0.0.1:${port}/auth?service=registry&scope=repository:app:pull`, {
        headers: { authorization: basic('alice', pw.alice) },
      });
    const serve = await startProcess(process.execPath, [MAIN, 'serve', '-c', config, '--data-dir', tmp.dir], {
      timeoutMs: 20_000,
      readyWhen: async () =>
        (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true,
      name: 'regauth serve',
    });
    running.push(serve);
    const statuses: number[] = [];
    for (let i = 0; i < 5 && serve.exitStatus() === undefined; i++) {
      statuses.push(
        await token().then(
          (r) => r.status,
          () => 0,
        ),
      );
    }
    // What a crash leaves to be seen (its output); nothing when it lives.
    await new Promise((r) => setTimeout(r, 300));
    expect({
      exited: serve.exitStatus(),
      statuses,
      tampered: relay.tampered() > 0,
      crash: serve.exitStatus() && serve.logs(),
    }).toEqual({ exited: undefined, statuses: [503, 503, 503, 503, 503], tampered: true, crash: undefined });
  },
  60_000,
);
