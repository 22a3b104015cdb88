import bcrypt from 'bcryptjs';
import { UsageError } from '../core/errors.js';
import type { Secret } from '../core/secret.js';

export const DEFAULT_BCRYPT_COST = 10;
/** bcrypt's own bounds: 2^4 to 2^31 rounds. */
export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 31;
/** bcrypt ignores every byte after the 72nd: a longer password would be silently cut. */
export const MAX_BCRYPT_BYTES = 72;

/**
 * A bcrypt hash for `users:` or an htpasswd file. bcryptjs writes `$2b$` (the current name of
 * the algorithm); regauth, docker_auth and the registry's htpasswd (Go's x/crypto/bcrypt) accept
 * it as they accept htpasswd's `$2y$`: the three prefixes are the same algorithm.
 * Refuses an empty password and one longer than bcrypt's 72 bytes.
 */
export async function hashPassword(password: Secret, cost = DEFAULT_BCRYPT_COST): Promise<string> {
  if (!Number.isInteger(cost) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    throw new UsageError(`--cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`);
  }
  const value = password.reveal();
  if (value === '') throw new UsageError('refusing to hash an empty password');
  if (Buffer.byteLength(value) > MAX_BCRYPT_BYTES) {
    throw new UsageError(
      `the password is longer than ${MAX_BCRYPT_BYTES} bytes, which bcrypt would silently cut`,
    );
  }
  return bcrypt.hash(value, cost);
}

/** The password as read from stdin: everything, minus one trailing newline (`echo pw |`, a here-string). */
export function passwordFromStdin(text: string): string {
  return text.replace(/\r?\n$/, '');
}
