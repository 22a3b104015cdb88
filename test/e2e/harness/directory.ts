import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LdapAuthenticator } from '../../../src/authn/ldap/authenticator.js';
import { compileLdapConfig, ldapAuthSchema } from '../../../src/authn/ldap/config.js';
import { tempDir } from '../../helpers/fixtures.js';
import { startSlapd, type Slapd, type SlapdOptions } from './slapd.js';

/** What useSlapd hands a test file or describe block. */
export interface SlapdFixture {
  /** The running directory (once the beforeAll has run). */
  readonly slapd: Slapd;
  /** The temporary directory: slapd's files in `slapd/`, the bind password in `bind-password`. */
  readonly tmp: { readonly dir: string; cleanup(): void };
  /**
   * An LdapAuthenticator from a raw `ldap_auth` section, as the config loader builds it (relative
   * paths, `bind_password_file: bind-password` among them, in the temporary directory); closed
   * after the tests.
   */
  authenticator(section: Record<string, unknown>): LdapAuthenticator;
}

/**
 * Sets up a real slapd for the tests of the file (or describe block) it is called in: a temporary
 * directory named from `tmpPrefix`, startSlapd in its `slapd/` with `ldif` (and `tls`,
 * `memberOf`, `suffix`), and `bindPassword` written to its `bind-password` (mode 0600, with a
 * newline, as `echo` writes it). After the tests: the authenticators made closed, slapd stopped,
 * the directory removed. Hooks the caller registers after this call run before that teardown.
 */
export function useSlapd(
  options: Omit<SlapdOptions, 'dir'> & { readonly tmpPrefix: string; readonly bindPassword: string },
): SlapdFixture {
  const { tmpPrefix, bindPassword, ...slapdOptions } = options;
  const tmp = tempDir(tmpPrefix);
  let slapd: Slapd | undefined;
  const authenticators: LdapAuthenticator[] = [];
  const running = (): Slapd => {
    if (!slapd) throw new Error('useSlapd: slapd is not started yet (used before beforeAll?)');
    return slapd;
  };

  beforeAll(async () => {
    slapd = await startSlapd({ ...slapdOptions, dir: join(tmp.dir, 'slapd') });
    writeFileSync(join(tmp.dir, 'bind-password'), `${bindPassword}\n`, { mode: 0o600 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(authenticators.map((a) => a.close()));
    await slapd?.stop();
    tmp.cleanup();
  });

  return {
    get slapd() {
      return running();
    },
    tmp,
    authenticator(section) {
      const config = compileLdapConfig(ldapAuthSchema.parse(section), {
        at: (p) => (p.startsWith('/') ? p : join(tmp.dir, p)),
        readFile: (_y, p) => readFileSync(p, 'utf8'),
      });
      const a = new LdapAuthenticator(config);
      authenticators.push(a);
      return a;
    },
  };
}
