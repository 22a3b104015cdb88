import { hkdfSync } from 'node:crypto';
import type { Secret } from '../core/secret.js';

/**
 * What a derived key is for (signing app passwords, encrypting the login cookie and the registry
 * page's session cookie, the page's CSRF tokens); each purpose gets its own key.
 */
export type KeyPurpose = 'app-password' | 'login-cookie-encryption' | 'ui-session-encryption' | 'ui-csrf';

/**
 * A 256-bit key for one purpose (HMAC for app passwords and CSRF tokens, A256GCM for the
 * cookies), derived from `oidc_auth.secret_file` with HKDF-SHA256: an app password cannot be
 * replayed as a login cookie, nor a login cookie as a session, or the other way round.
 */
export function deriveKey(secret: Secret, purpose: KeyPurpose): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret.reveal(), 'regauth oidc_auth', `regauth ${purpose}`, 32));
}
