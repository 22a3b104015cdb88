import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { EncryptJWT, jwtDecrypt } from 'jose';
import type { Labels } from '../authz/types.js';
import type { Secret } from '../core/secret.js';
import { asLabels } from './app-password.js';
import { deriveKey } from './keys.js';

/**
 * The registry page's session cookie (docs/catalog.md "Signing in with oidc_auth"): after an
 * OIDC login started by `/ui/`, it names the account and labels that login produced. Over https
 * it is `__Host-regauth_ui` (Secure, Path=/, no Domain); over http (loopback only) `regauth_ui`
 * on the page's own path.
 */
export const SESSION_COOKIE = 'regauth_ui';
export const SESSION_COOKIE_HOST = `__Host-${SESSION_COOKIE}`;

/** The JWE `typ`: a login cookie (another `typ`, another key) never opens as a session. */
const SESSION_TYP = 'regauth-ui-session+jwt';

/** What a session cookie speaks for. */
export interface UiSession {
  readonly account: string;
  readonly labels: Labels;
  /** The session's id: what sign-out revokes and the CSRF token is bound to. */
  readonly sid: string;
  /** Unix seconds. */
  readonly issuedAt: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

/**
 * Seals and opens session cookies: a compact JWE (dir, A256GCM) with a key derived from
 * `oidc_auth.secret_file`, so the cookie is both secret (proxies log cookies; labels can be
 * group names) and authenticated (any change fails to decrypt). Free of HTTP.
 */
export class UiSessions {
  readonly #key: Uint8Array;
  readonly #csrfKey: Uint8Array;

  constructor(secret: Secret) {
    this.#key = deriveKey(secret, 'ui-session-encryption');
    this.#csrfKey = deriveKey(secret, 'ui-csrf');
  }

  /** A new session for `account` with `labels`, valid `lifetime` seconds from `now` (Unix seconds). */
  async seal(
    account: string,
    labels: Labels,
    now: number,
    lifetime: number,
  ): Promise<{ cookie: string; session: UiSession }> {
    const session: UiSession = {
      account,
      labels,
      sid: randomUUID(),
      issuedAt: now,
      expiresAt: now + lifetime,
    };
    const cookie = await new EncryptJWT({ labels })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: SESSION_TYP })
      .setSubject(account)
      .setJti(session.sid)
      .setIssuedAt(now)
      .setExpirationTime(session.expiresAt)
      .encrypt(this.#key);
    return { cookie, session };
  }

  /** The session a cookie holds, or undefined when it is absent, tampered, expired or sealed with another key. */
  async open(cookie: string | undefined, now: number): Promise<UiSession | undefined> {
    if (cookie === undefined || cookie.length > 16_384) return undefined;
    try {
      const { payload } = await jwtDecrypt(cookie, this.#key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        typ: SESSION_TYP,
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        currentDate: new Date(now * 1000),
      });
      const { sub, jti, iat, exp } = payload as { sub: string; jti: string; iat: number; exp: number };
      // jose accepts a token up to the second of `exp`; a session ends at it.
      if (now >= exp) return undefined;
      return { account: sub, labels: asLabels(payload['labels']), sid: jti, issuedAt: iat, expiresAt: exp };
    } catch {
      return undefined;
    }
  }

  /** The sign-out form's CSRF token: bound to the session (an HMAC of its id), unknown to other sites. */
  csrfToken(session: UiSession): string {
    return createHmac('sha256', this.#csrfKey).update(session.sid).digest('base64url');
  }

  /** Whether `token` is this session's CSRF token (compared in constant time). */
  checkCsrf(session: UiSession, token: string | null | undefined): boolean {
    if (typeof token !== 'string') return false;
    const expected = Buffer.from(this.csrfToken(session));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** Characters a path and query may hold unescaped (RFC 3986 pchar, `/`, `?`): no backslash, space or control. */
const URL_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*$/;

/**
 * `value` when it is a safe place to send the browser back to after signing in: a relative path
 * on this origin under `base` (the page's own path, e.g. `/regauth/ui`), with its query. Else
 * undefined: absolute or scheme-relative URLs (`https://evil`, `//evil`), backslashes (`/\evil`,
 * which browsers read as `//evil`), dot segments, and any of these percent-encoded.
 */
export function safeReturnPath(value: string, base: string): string | undefined {
  if (value.length > 2048 || !URL_CHARS.test(value)) return undefined;
  const q = value.indexOf('?');
  const path = q < 0 ? value : value.slice(0, q);
  if (path !== base && !path.startsWith(`${base}/`)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (/[\\\0-\x1f\x7f]/.test(decoded) || decoded.includes('//') || /(^|\/)\.\.?(\/|$)/.test(decoded)) {
    return undefined;
  }
  if (!decoded.startsWith(`${base}/`) && decoded !== base) return undefined;
  return value;
}
