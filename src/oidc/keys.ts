import { hkdfSync } from 'node:crypto';
import type { Secret } from '../core/secret.js';

/** What a derived key is for (signing app passwords, encrypting the login cookie); each purpose gets its own key. */
export type KeyPurpose = 'app-password' | 'login-cookie-encryption';

/**
 * A 256-bit key for one purpose (HMAC for app passwords, A256GCM for the login cookie), derived from `oidc_auth.secret_file` with HKDF-SHA256: an app
 * password cannot be replayed as a login cookie or the other way round.
 */
export function deriveKey(secret: Secret, purpose: KeyPurpose): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret.reveal(), 'regauth oidc_auth', `regauth ${purpose}`, 32));
}
