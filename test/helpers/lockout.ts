import { UnauthorizedError } from '../../src/core/errors.js';
import type { LockoutPolicy } from '../../src/guard/lockout.js';

/** The policy the lockout tests start from: the third failure locks; a wide account cap. */
export const LOCKOUT_POLICY: LockoutPolicy = {
  enabled: true,
  max_failures: 3,
  backoff: 2,
  max_backoff: 30,
  forget_after: 600,
  ipv6_prefix: 64,
  account_max_failures: 10_000,
  remember_success: 86_400,
};

/**
 * A backend's refusal of a wrong password, `delayMs` after it was asked, naming the account as
 * the backend holds it (a directory that holds alice@example.org as alice says alice).
 */
export function deniedAs(account: string, delayMs = 0, authenticator = 'ldap_auth') {
  return async (): Promise<never> => {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    throw new UnauthorizedError(undefined, { authenticator, reason: 'invalid credentials', account });
  };
}
