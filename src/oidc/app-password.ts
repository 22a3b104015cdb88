import { createHash, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Labels } from '../authz/types.js';
import type { OidcAuthConfig } from './config.js';
import { deriveKey } from './keys.js';
import { Secret } from '../core/secret.js';
import { foldAccountName } from '../core/account-name.js';
import type { Authenticator, AuthnResult, Credentials, LookupResult } from '../authn/types.js';

/** Every app password starts with this, so other passwords are told apart without any crypto. */
export const APP_PASSWORD_PREFIX = 'rga_';

/** The JWS `typ` of an app password: a login cookie (another `typ`, another key) never passes. */
const TYP = 'regauth-app-password+jwt';

/** An app password just issued, for the login page. */
export interface IssuedAppPassword {
  readonly password: Secret;
  /** Unix seconds. */
  readonly expiresAt: number;
}

/**
 * Signs a registry app password: `rga_` + a JWT (HS256 with a key derived from
 * `oidc_auth.secret_file`) carrying the account, its labels and the expiry. Stateless: nothing
 * is stored; revocation is by `oidc_auth.not_before` (per account) or by a new secret.
 */
export async function issueAppPassword(
  config: OidcAuthConfig,
  account: string,
  labels: Labels,
  now: number,
): Promise<IssuedAppPassword> {
  const expiresAt = now + config.appPasswordExpiration;
  const jwt = await new SignJWT({ labels })
    .setProtectedHeader({ alg: 'HS256', typ: TYP })
    .setSubject(account)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .setJti(randomUUID())
    .sign(deriveKey(config.secret, 'app-password'));
  return { password: new Secret(`${APP_PASSWORD_PREFIX}${jwt}`), expiresAt };
}

/**
 * `oidc_auth` app passwords at the token endpoint. A password without the `rga_` prefix is no
 * match; one with it is this backend's to decide: authenticated with the labels it carries, or
 * denied when tampered, expired, issued to another account, or issued before the account's
 * `not_before`.
 */
export class AppPasswordAuthenticator implements Authenticator {
  readonly name = 'oidc_auth';
  readonly #config: OidcAuthConfig;
  readonly #key: Uint8Array;
  readonly #now: () => number;

  /** `now` in Unix seconds (injectable for tests). */
  constructor(config: OidcAuthConfig, now: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#config = config;
    this.#key = deriveKey(config.secret, 'app-password');
    this.#now = now;
  }

  async authenticate({ account, password }: Credentials): Promise<AuthnResult> {
    const value = password?.reveal();
    if (value === undefined || !value.startsWith(APP_PASSWORD_PREFIX)) return { outcome: 'no_match' };
    let claims: { sub?: string; iat?: number; exp?: number; labels?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(value.slice(APP_PASSWORD_PREFIX.length), this.#key, {
        algorithms: ['HS256'],
        typ: TYP,
        requiredClaims: ['sub', 'iat', 'exp'],
        currentDate: new Date(this.#now() * 1000),
      }));
    } catch {
      return { outcome: 'denied', reason: 'invalid or expired app password' };
    }
    if (claims.sub !== account) return { outcome: 'denied', reason: 'app password of another account' };
    // Valid as long as app_password_expiration says now, not only as its `exp` (the value when it
    // was issued) says: a reload lowering it ends the app passwords already out that are older.
    const endsAt = Math.min(claims.exp ?? 0, (claims.iat ?? 0) + this.#config.appPasswordExpiration);
    if (this.#now() >= endsAt) {
      return { outcome: 'denied', reason: 'app password older than oidc_auth.app_password_expiration' };
    }
    const notBefore = this.#config.notBefore.get(foldAccountName(account));
    if (notBefore !== undefined && (claims.iat ?? 0) < notBefore) {
      return { outcome: 'denied', reason: 'app password revoked (oidc_auth.not_before)' };
    }
    return {
      outcome: 'authenticated',
      labels: asLabels(claims.labels),
      expiresAt: endsAt,
      fingerprint: this.#fingerprint(account),
    };
  }

  /** The labels came from the identity provider at login: `lookup` cannot give them back. */
  readonly labelsInRefreshToken = true;

  /**
   * For refresh tokens. App passwords are stateless, so any account may hold one; the
   * fingerprint changes with the account's `not_before` (and with the secret), so revoking the
   * app passwords also revokes the refresh tokens obtained with them. (Not with
   * `app_password_expiration`: a refresh token is capped when issued, at its app password's end
   * as the lifetime then in force allows, and a change of that value, or the upgrade that would
   * bring it into the fingerprint, must not revoke every one.) The labels are those the refresh
   * token recorded at login (`labelsInRefreshToken`).
   */
  async lookup(account: string): Promise<LookupResult> {
    return { fingerprint: this.#fingerprint(account) };
  }

  #fingerprint(account: string): string {
    return createHash('sha256')
      .update(Buffer.from(this.#key))
      .update(`\0${account}\0${this.#config.notBefore.get(foldAccountName(account)) ?? 0}`)
      .digest('base64url')
      .slice(0, 22);
  }
}

/** The `labels` claim as Labels, dropping anything that is not a list of strings. */
export function asLabels(value: unknown): Labels {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  // Made with fromEntries, which defines each key (a label named __proto__ included).
  return Object.fromEntries(
    Object.entries(value)
      .filter((e): e is [string, unknown[]] => Array.isArray(e[1]))
      .map(([key, values]) => [key, values.filter((v): v is string => typeof v === 'string')]),
  );
}
