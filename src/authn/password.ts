import bcrypt from 'bcryptjs';
import type { Secret } from '../secret.js';

/** Checks a password against a stored bcrypt hash. Swappable (worker pool, cache) without touching backends. */
export interface PasswordVerifier {
  verify(password: Secret, hash: string): Promise<boolean>;
  /**
   * Spends the time of one comparison without a real hash, so an unknown account costs
   * as much as a known one and timing does not reveal who exists.
   */
  burn(password: Secret | undefined): Promise<void>;
  /** Releases what the verifier holds (a worker pool lease); called when its runtime closes. */
  close?(): Promise<void>;
}

/** `$2a$`, `$2b$` and `$2y$` (htpasswd -B) are the same algorithm; bcryptjs accepts all three. */
export const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** A bcryptjs verifier on the calling thread. `dummyCost` should match the users' hashes. */
export function bcryptVerifier(dummyCost = 10): PasswordVerifier {
  // A hash of a random value nobody knows, made once.
  const dummy = bcrypt.hashSync(Math.random().toString(36), dummyCost);
  return {
    verify: (password, hash) => bcrypt.compare(password.reveal(), hash),
    burn: async (password) => {
      await bcrypt.compare(password?.reveal() ?? '', dummy);
    },
  };
}

/** The cost of a bcrypt hash, e.g. 10 for `$2y$10$…`. */
export function bcryptCost(hash: string): number | undefined {
  const m = BCRYPT_HASH.exec(hash);
  return m ? Number(m[1]) : undefined;
}
