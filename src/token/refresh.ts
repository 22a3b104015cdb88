import type { Labels } from '../authz/types.js';
import { hkdfSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EncryptJWT, errors as joseErrors, jwtDecrypt } from 'jose';
import { InvalidGrantError } from '../core/errors.js';
import { foldAccountName } from '../core/account-name.js';
import { EVERY_ACCOUNT } from '../core/schema.js';
import { makeDataDirectorySync } from '../core/mkdir.js';
import { Secret } from '../core/secret.js';

/**
 * Refresh ("identity") tokens (docs/refresh-tokens.md; docs/http-api.md "The refresh grant").
 *
 * A refresh token is a JWE (compact, `alg: dir`, `enc: A256GCM`) under a key derived from
 * `token.refresh.secret_file`, never from the registry signing key. It is opaque to clients,
 * unreadable and tamper-evident, and it has five dot-separated parts, so the registry (which
 * parses three-part JWS) can never take it for an access token.
 */

/** What a refresh token binds. */
export interface RefreshClaims {
  readonly account: string;
  /** The `service` (token audience) it was issued for; it only works for that service. */
  readonly service: string;
  /** The authenticator that vouched for the account (`users`, `users_file`, …); asked again at refresh. */
  readonly authenticator: string;
  /** The account's credential fingerprint at issue time; a different one at refresh revokes the token. */
  readonly fingerprint: string | undefined;
  /**
   * The labels at issue time, kept for backends that cannot look them up again (app passwords,
   * whose labels came from the identity provider at login). Encrypted like the rest.
   */
  readonly labels?: Labels;
  /** Unix seconds. */
  readonly issuedAt: number;
  /** Unix seconds; undefined = never expires (`token.refresh.expiration: 0`). */
  readonly expiresAt: number | undefined;
}

/** `token.refresh`, as loaded. */
export interface RefreshSettings {
  /** Contents of `secret_file`. */
  readonly secret: Secret;
  /** Lifetime in seconds; 0 = never expire. */
  readonly expiration: number;
  /** `revoke_before`: account (or `*` for every account) → unix seconds. Tokens issued earlier are refused. */
  readonly revokeBefore: ReadonlyMap<string, number>;
}

/** Issues and verifies refresh tokens for one config. */
export interface RefreshTokens {
  readonly expiration: number;
  /** `notAfter` (unix seconds): the token expires then at the latest (the credential it came from does). */
  issue(
    claims: Pick<RefreshClaims, 'account' | 'service' | 'authenticator' | 'fingerprint' | 'labels'>,
    now: number,
    notAfter?: number,
  ): Promise<Secret>;
  /**
   * Decrypts and checks a refresh token: integrity, expiry, service, operator revocation.
   * Throws InvalidGrantError (HTTP 401 invalid_grant) with the reason for the log.
   * Whether the account still exists with the same credential is the pipeline's check.
   */
  verify(
    token: Secret,
    expect: {
      readonly service: string;
      /** Another service the token may have been issued for (the filtered catalog's registry). */
      readonly alsoFor?: string | undefined;
      readonly now: number;
    },
  ): Promise<RefreshClaims>;
  /** The account's `revoke_before` (its own or `*`, unix seconds): tokens issued earlier are refused. */
  revokedBefore(account: string): number | undefined;
}

/** The `typ` header, so a JWE made for something else under the same key is refused. */
const TYP = 'regauth-refresh+jwt';
/** Shortest secret_file content accepted: 32 characters of `openssl rand -base64 48` carry ≥ 192 bits. */
export const MIN_SECRET_LENGTH = 32;

/**
 * The 32-byte A256GCM key for a secret. HKDF, so the file may hold any text of enough entropy
 * and the same secret could key other purposes (other `info`) without reuse.
 */
export function deriveRefreshKey(secret: Secret): Uint8Array {
  return new Uint8Array(
    hkdfSync('sha256', Buffer.from(secret.reveal(), 'utf8'), 'regauth', 'refresh-token A256GCM v1', 32),
  );
}

/** Builds the issuer/verifier for `token.refresh`. */
export function createRefreshTokens(settings: RefreshSettings): RefreshTokens {
  const key = deriveRefreshKey(settings.secret);
  return {
    expiration: settings.expiration,

    async issue(claims, now, notAfter) {
      const jwt = new EncryptJWT({
        authn: claims.authenticator,
        ...(claims.fingerprint !== undefined ? { fp: claims.fingerprint } : {}),
        ...(claims.labels !== undefined ? { labels: claims.labels } : {}),
      })
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: TYP })
        .setSubject(claims.account)
        .setAudience(claims.service)
        .setIssuedAt(now);
      const exp = settings.expiration > 0 ? now + settings.expiration : undefined;
      const capped = notAfter === undefined ? exp : Math.min(exp ?? notAfter, notAfter);
      if (capped !== undefined) jwt.setExpirationTime(capped);
      return new Secret(await jwt.encrypt(key));
    },

    async verify(token, expect) {
      // jose decodes leniently (padding, whitespace, a last character's unused bits): the same
      // bytes in other text would pass, and "any change to it is detected" would not hold.
      if (!canonical(token.reveal())) throw new InvalidGrantError('invalid refresh token');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtDecrypt(token.reveal(), key, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
          typ: TYP,
          currentDate: new Date(expect.now * 1000),
          requiredClaims: ['sub', 'aud', 'iat'],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) {
          // Decrypted and authenticated before its expiry was checked: its account is known.
          const sub = err.payload['sub'];
          throw new InvalidGrantError('refresh token expired', typeof sub === 'string' ? sub : undefined);
        }
        // Tampered, truncated, made with another secret, or not ours at all: one answer.
        throw new InvalidGrantError('invalid refresh token');
      }
      const claims = toClaims(payload);
      if (claims === undefined) throw new InvalidGrantError('invalid refresh token');
      // The lifetime in force bounds the tokens already out, as well as the `exp` each was
      // issued with: after `expiration` is lowered (or set where it was 0), one issued earlier
      // expires by it, so a revoke_before entry can be removed once that lifetime has passed.
      if (settings.expiration > 0 && expect.now >= claims.issuedAt + settings.expiration) {
        throw new InvalidGrantError('refresh token expired', claims.account);
      }
      if (claims.service !== expect.service && claims.service !== expect.alsoFor) {
        throw new InvalidGrantError('refresh token issued for another service', claims.account);
      }
      const notBefore = revokedBefore(settings.revokeBefore, claims.account);
      if (notBefore !== undefined && claims.issuedAt < notBefore) {
        throw new InvalidGrantError('refresh token revoked', claims.account);
      }
      return claims;
    },

    revokedBefore: (account) => revokedBefore(settings.revokeBefore, account),
  };
}

/** Whether `text` is five parts of base64url, each the one spelling of its bytes (as issued). */
function canonical(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 5 && parts.every((p) => Buffer.from(p, 'base64url').toString('base64url') === p);
}

/**
 * The revocation time that applies to an account: the later of its own `revoke_before` entry
 * (keys folded at load, see revocationMap; the account is folded the same way) and the `*` entry
 * (kept apart from every account's: EVERY_ACCOUNT).
 */
export function revokedBefore(
  revokeBefore: ReadonlyMap<string, number>,
  account: string,
): number | undefined {
  const own = revokeBefore.get(foldAccountName(account));
  const all = revokeBefore.get(EVERY_ACCOUNT);
  if (own === undefined) return all;
  if (all === undefined) return own;
  return Math.max(own, all);
}

function isLabels(value: unknown): value is Labels {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => Array.isArray(v) && v.every((x) => typeof x === 'string'))
  );
}

function toClaims(p: Record<string, unknown>): RefreshClaims | undefined {
  const { sub, aud, iat, exp, authn, fp, labels } = p;
  if (typeof sub !== 'string' || typeof aud !== 'string' || typeof iat !== 'number') return undefined;
  if (typeof authn !== 'string' || (fp !== undefined && typeof fp !== 'string')) return undefined;
  return {
    account: sub,
    service: aud,
    authenticator: authn,
    fingerprint: fp,
    ...(isLabels(labels) ? { labels } : {}),
    issuedAt: iat,
    expiresAt: typeof exp === 'number' ? exp : undefined,
  };
}

/**
 * Makes sure a development refresh secret exists at `path` (mode 0600), creating it (and its
 * directory) when missing, like the development signing key. An existing file is never touched:
 * replacing it would revoke every refresh token. Synchronous because the config loader is.
 */
export function ensureRefreshSecret(path: string): { created: boolean; path: string } {
  makeDataDirectorySync(dirname(path));
  try {
    // 'wx': if the file exists (or another process created it meanwhile), keep it.
    writeFileSync(path, `${randomBytes(48).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return { created: true, path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { created: false, path };
    throw err;
  }
}
