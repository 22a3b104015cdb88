// Runs inside a piscina worker thread (src/authn/bcrypt-pool.ts): bcrypt is pure CPU, so the
// synchronous calls are right here; they block this worker, never the main event loop.
// Plain JavaScript on purpose: worker threads load files as they are, so the same file must
// run from src/ (vitest, tsx) and from dist/ (tsc copies it with allowJs).
import bcrypt from 'bcryptjs';

/**
 * Compares a password with a bcrypt hash.
 * @param {{ password: string, hash: string }} task
 * @returns {boolean}
 */
export function compare({ password, hash }) {
  return bcrypt.compareSync(password, hash);
}

/**
 * Hashes a random value nobody knows, for the dummy comparison of unknown accounts.
 * @param {{ cost: number }} task
 * @returns {string}
 */
export function dummyHash({ cost }) {
  return bcrypt.hashSync(crypto.randomUUID(), cost);
}
