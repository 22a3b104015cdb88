import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptsConnections, freePort } from './ports.js';
import { pauseProcess, resumeProcess, runCommand, startProcess, type ProcessHandle } from './proc.js';

/** Debian's slapd modules and schema. */
const MODULE_PATH = '/usr/lib/ldap';
const SCHEMA_DIR = '/etc/ldap/schema';

export interface SlapdOptions {
  /** Working directory (config, database, certificates); the caller removes it. */
  dir: string;
  /** Suffix of the one database. Default `dc=example,dc=org`. */
  suffix?: string;
  /** LDIF added (as the root DN, after start) below the suffix entry, which the harness creates. */
  ldif: string;
  /** Also listen on ldaps:// and offer StartTLS, with a server certificate from a test CA. */
  tls?: boolean;
  /** Load the memberof overlay, so users get memberOf as in Active Directory. */
  memberOf?: boolean;
}

export interface TestCa {
  /** PEM of the CA certificate that signed the server certificate. */
  caPath: string;
  certPath: string;
  keyPath: string;
}

/** A running test directory. The root DN's password is generated per run. */
export interface Slapd {
  readonly suffix: string;
  readonly rootDn: string;
  readonly rootPassword: string;
  readonly port: number;
  readonly url: string;
  /** With `tls`: the ldaps:// port and the CA to trust. */
  readonly ldapsPort: number | undefined;
  readonly ca: TestCa | undefined;
  /** Adds LDIF as the root DN. */
  add(ldif: string): Promise<void>;
  /** Stops slapd; the database stays, so `start()` brings the same directory back on the same ports. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: a directory that accepts connections but never answers. */
  pause(): void;
  resume(): void;
  logs(): string;
}

/**
 * The directory most LDAP tests need, as LDIF under `suffix`: `ou=people` with `uid=alice` in it
 * (an inetOrgPerson, password `pw.alice`), and the service account `uid=svc` (password `pw.svc`).
 */
export function aliceAndServiceLdif(
  suffix: string,
  pw: { readonly alice: string; readonly svc: string },
): string {
  return [
    `dn: ou=people,${suffix}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: uid=alice,ou=people,${suffix}\nobjectClass: inetOrgPerson\nuid: alice\ncn: alice\nsn: alice\nuserPassword: ${pw.alice}\n`,
    `dn: uid=svc,${suffix}\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: svc\nuserPassword: ${pw.svc}\n`,
  ].join('\n');
}

/**
 * Starts OpenLDAP's slapd on 127.0.0.1 with its own slapd.conf (mdb backend) in `dir`, creates
 * the suffix entry and adds the LDIF. Needs slapd and ldap-utils (scripts/test-peers.sh).
 */
export async function startSlapd(options: SlapdOptions): Promise<Slapd> {
  const suffix = options.suffix ?? 'dc=example,dc=org';
  const rootDn = `cn=admin,${suffix}`;
  const rootPassword = `root-${Math.random().toString(36).slice(2)}`;
  const dir = options.dir;
  const dbDir = join(dir, 'db');
  mkdirSync(dbDir, { recursive: true });
  const port = await freePort();
  const ldapsPort = options.tls ? await freePort() : undefined;
  const ca = options.tls ? await createTestCa(join(dir, 'tls')) : undefined;
  const confPath = join(dir, 'slapd.conf');
  const passwordFile = join(dir, 'rootpw');
  writeFileSync(passwordFile, rootPassword, { mode: 0o600 });
  writeFileSync(
    confPath,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      `modulepath ${MODULE_PATH}`,
      'moduleload back_mdb',
      ...(options.memberOf ? ['moduleload memberof'] : []),
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      ...(ca
        ? [
            `TLSCACertificateFile ${ca.caPath}`,
            `TLSCertificateFile ${ca.certPath}`,
            `TLSCertificateKeyFile ${ca.keyPath}`,
          ]
        : []),
      'database mdb',
      `suffix "${suffix}"`,
      `rootdn "${rootDn}"`,
      `rootpw ${rootPassword}`,
      `directory ${dbDir}`,
      'maxsize 67108864',
      ...(options.memberOf ? ['overlay memberof'] : []),
      // Users may check their own password; only bound users may read; anonymous sees nothing.
      'access to attrs=userPassword by self =xw by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );

  const urls = [`ldap://127.0.0.1:${port}/`, ...(ldapsPort ? [`ldaps://127.0.0.1:${ldapsPort}/`] : [])];
  let proc: ProcessHandle | undefined;
  const start = async (): Promise<void> => {
    proc = await startProcess('slapd', ['-d', '0', '-h', urls.join(' '), '-f', confPath], {
      timeoutMs: 20_000,
      readyWhen: () => acceptsConnections(port),
      name: 'slapd',
    });
  };
  const add = async (ldif: string): Promise<void> => {
    const result = await runCommand('ldapadd', ['-x', '-H', urls[0]!, '-D', rootDn, '-y', passwordFile], {
      input: ldif,
      timeoutMs: 20_000,
    });
    if (result.code !== 0) throw new Error(`ldapadd failed (${result.code}): ${result.stderr}`);
  };

  await start();
  try {
    const rdn = /^dc=([^,]+)/.exec(suffix)?.[1] ?? 'example';
    await add(`dn: ${suffix}\nobjectClass: dcObject\nobjectClass: organization\no: ${rdn}\ndc: ${rdn}\n`);
    await add(options.ldif);
  } catch (err) {
    await proc?.stop();
    throw new Error(`${(err as Error).message}\n--- slapd ---\n${proc?.logs() ?? ''}`, { cause: err });
  }

  return {
    suffix,
    rootDn,
    rootPassword,
    port,
    url: urls[0]!,
    ldapsPort,
    ca,
    add,
    stop: async () => {
      await proc?.stop();
    },
    start,
    pause: () => pauseProcess(proc, 'slapd'),
    resume: () => resumeProcess(proc),
    logs: () => proc?.logs() ?? '',
  };
}

/**
 * A test CA and a server certificate it signed for 127.0.0.1 and localhost, made with openssl
 * (a test peer) into `dir`. Valid for one day.
 */
export async function createTestCa(dir: string): Promise<TestCa> {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const openssl = async (args: string[]): Promise<void> => {
    const result = await runCommand('openssl', args, { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error(`openssl ${args[0]} failed (${result.code}): ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=regauth test CA'].concat([
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.crt'),
    ]),
  );
  await openssl([
    'req',
    ...ec,
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
  ]);
  writeFileSync(
    p('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    p('server.ext'),
    '-out',
    p('server.crt'),
  ]);
  return { caPath: p('ca.crt'), certPath: p('server.crt'), keyPath: p('server.key') };
}
