import { createHash } from 'node:crypto';
import type { Labels } from '../authz/types.js';
import type { PasswordVerifier } from './password.js';
import type { Authenticator, AuthnResult, Credentials, LookupResult } from './types.js';

/** A statically configured account. */
export interface StaticUser {
  /** bcrypt hash; undefined accepts any password (docker_auth semantics, used for `"": {}` anonymous). */
  readonly passwordHash: string | undefined;
  readonly labels: Labels;
  /**
   * Written as `{}`, neither `password` nor `labels` given (`users:` only): a file cut short
   * never reads so, which a reload's check relies on (src/service/load.ts).
   */
  readonly bare?: true;
}

/**
 * Accounts from `users:` or `users_file:`. A known account is authenticated or denied; an
 * unknown one is no match, so the next backend is asked.
 */
export class StaticUsersAuthenticator implements Authenticator {
  readonly name: string;
  readonly #users: ReadonlyMap<string, StaticUser>;
  readonly #verifier: PasswordVerifier;

  constructor(
    name: 'users' | 'users_file',
    users: ReadonlyMap<string, StaticUser>,
    verifier: PasswordVerifier,
  ) {
    this.name = name;
    this.#users = users;
    this.#verifier = verifier;
  }

  async authenticate({ account, password }: Credentials): Promise<AuthnResult> {
    const user = this.#users.get(account);
    if (!user) return { outcome: 'no_match' };
    if (user.passwordHash === undefined) return { outcome: 'authenticated', labels: user.labels };
    if (password === undefined) return { outcome: 'denied', reason: 'password required', account };
    return (await this.#verifier.verify(password, user.passwordHash))
      ? { outcome: 'authenticated', labels: user.labels, fingerprint: fingerprint(user.passwordHash) }
      : { outcome: 'denied', reason: 'wrong password', checkedPassword: true, account };
  }

  /** The account's current labels and credential fingerprint, for refresh tokens (no password needed). */
  async lookup(account: string): Promise<LookupResult | undefined> {
    const user = this.#users.get(account);
    if (!user) return undefined;
    return user.passwordHash === undefined
      ? { labels: user.labels }
      : { labels: user.labels, fingerprint: fingerprint(user.passwordHash) };
  }

  /** The stored hash, for refresh-token binding (a changed hash revokes tokens). */
  entry(account: string): StaticUser | undefined {
    return this.#users.get(account);
  }
}

/**
 * A hash of the stored bcrypt hash: it changes when the password is changed (bcrypt salts every
 * hash), so a refresh token bound to it stops working. The hash itself never leaves the process.
 */
function fingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22);
}
