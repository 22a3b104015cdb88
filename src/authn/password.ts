import bcrypt from 'bcryptjs';
import type { Secret } from '../core/secret.js';

/**
 * Checks a password against a stored bcrypt hash. Swappable (worker pool, cache) without
 * touching backends. A verifier has one cost, the highest of the configured hashes: a failed
 * comparison against a cheaper hash also spends the difference, and `burn` spends one
 * comparison at it, so every failed password costs the same whichever user, or none, it was for.
 */
export interface PasswordVerifier {
  /** True when the password matches; false after spending one comparison at the verifier's cost. */
  verify(password: Secret, hash: string): Promise<boolean>;
  /**
   * Spends the time of one comparison at the verifier's cost without a real hash, so an unknown
   * account costs as much as a known one and timing does not reveal who exists. Nothing when
   * the verifier has no cost (no password hash is configured: nothing to look alike).
   */
  burn(password: Secret | undefined): Promise<void>;
  /** Releases what the verifier holds (a worker pool lease); called when its runtime closes. */
  close?(): Promise<void>;
}

/**
 * `$2a$`, `$2b$` and `$2y$` (htpasswd -B) are the same algorithm; bcryptjs accepts all three, at
 * a cost from 4 to 31 (it throws "Illegal number of rounds" for any other).
 */
export const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/**
 * What is wrong with a hash shaped like bcrypt but with a cost bcrypt refuses (`$2y$99$…`), for
 * a config error; undefined for any other string. Names the cost only, never the hash.
 */
export function bcryptCostProblem(hash: string): string | undefined {
  const m = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(hash);
  return m && !BCRYPT_HASH.test(hash) ? `bcrypt cost ${m[1]} is outside 4 to 31` : undefined;
}

/**
 * A bcryptjs verifier on the calling thread (tests). `cost`: the highest cost of the users'
 * hashes (see {@link PasswordVerifier}); undefined: no padding and no burn.
 */
export function bcryptVerifier(cost: number | undefined): PasswordVerifier {
  // A hash of a random value nobody knows, made once.
  const dummy = cost === undefined ? undefined : bcrypt.hashSync(Math.random().toString(36), cost);
  return {
    verify: async (password, hash) => {
      const ok = await bcrypt.compare(password.reveal(), hash);
      if (!ok && cost !== undefined) {
        for (let c = bcrypt.getRounds(hash); c < cost; c++) await bcrypt.hash(password.reveal(), padSalt(c));
      }
      return ok;
    },
    burn: async (password) => {
      if (dummy !== undefined) await bcrypt.compare(password?.reveal() ?? '', dummy);
    },
  };
}

/** A fixed salt at `cost`, for padding (src/authn/bcrypt-worker.cjs does the same in the pool). */
function padSalt(cost: number): string {
  return `$2b$${String(cost).padStart(2, '0')}$regauthpaddingsaltxxxu`;
}

/** The cost of a bcrypt hash, e.g. 10 for `$2y$10$…`. */
export function bcryptCost(hash: string): number | undefined {
  const m = BCRYPT_HASH.exec(hash);
  return m ? Number(m[1]) : undefined;
}
