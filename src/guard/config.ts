import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { durationIn, integerFrom, section, strict, tableEntries } from '../core/schema.js';
import { ConfigError } from '../core/errors.js';
import { defineSection, plainSection } from '../core/section.js';

/** The request guards' config sections, `lockout` and `login_queue`; every object is strict. */

export const lockoutSchema = strict({
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  /** Failed password attempts per (account, client address) before the first delay. */
  max_failures: integerFrom(1).default(5),
  /** The first delay in seconds; each further failure doubles it. */
  backoff: durationIn(1, Infinity, 'must be at least 1 second').default(1),
  /** The longest delay in seconds; default 300, or `backoff` when that is longer. */
  max_backoff: durationIn(1, Infinity, 'must be at least 1 second').optional(),
  /** Seconds without a failure after which the count is forgotten. */
  forget_after: durationIn(1, Infinity, 'must be at least 1 second').default(900),
  /**
   * How many (account, address) pairs the memory store's tables hold, counting and locked ones
   * each, and how many accounts; the least recently used overflow into a sketch that never counts less.
   */
  max_entries: tableEntries.default(10_000),
  /** IPv6 clients are counted per network of this prefix length (one /64 is one client). */
  ipv6_prefix: z
    .number({ error: 'must be a number from 1 to 128' })
    .int({ error: 'must be a whole number from 1 to 128' })
    .min(1, { error: 'must be a number from 1 to 128' })
    .max(128, { error: 'must be a number from 1 to 128' })
    .default(64),
  /**
   * Failed passwords per account from all clients together within `forget_after` seconds; past
   * it, clients without a recent success for the account get 429 until the window ends.
   */
  account_max_failures: integerFrom(1).default(50),
  /** A client that logged in to an account within this many seconds is not held back by `account_max_failures`. */
  remember_success: durationIn(1, Infinity, 'must be at least 1 second').default(30 * 86_400),
});

/** Uncached logins per core that `login_queue.max_pending` allows by default. */
export const PENDING_LOGINS_PER_CORE = 16;

export const loginQueueSchema = strict({
  /**
   * Uncached logins (a password still to be checked) in flight at once, waiting or being
   * checked; past it a login is answered 503 at once. Default 16 per core: at bcrypt cost 10
   * (about 65 ms) the last one waits about a second.
   */
  max_pending: integerFrom(1).default(() => PENDING_LOGINS_PER_CORE * availableParallelism()),
  /** Uncached logins in flight per client address; past it that client is answered 429 at once. */
  per_client: integerFrom(1).default(8),
  /** The Retry-After of those answers, in seconds. */
  retry_after: durationIn(1, Infinity, 'must be at least 1 second').default(1),
});

/** The longest delay when `max_backoff` is not given (unless `backoff` is longer). */
const DEFAULT_MAX_BACKOFF = 300;

/** `lockout:` as the code uses it: every key set. */
export type LockoutConfig = Readonly<z.output<typeof lockoutSchema> & { max_backoff: number }>;
export type LoginQueueConfig = z.output<typeof loginQueueSchema>;

/** `lockout:` (all defaults when absent). */
export const lockoutSection = defineSection({
  schema: section(lockoutSchema),
  compile: (value): LockoutConfig => {
    const maxBackoff = value.max_backoff ?? Math.max(DEFAULT_MAX_BACKOFF, value.backoff);
    if (maxBackoff < value.backoff) {
      throw new ConfigError(
        'lockout.max_backoff',
        `must be at least lockout.backoff (${value.backoff} s); the first delay would be cut to ${maxBackoff} s`,
      );
    }
    return Object.freeze({ ...value, max_backoff: maxBackoff });
  },
});
/** `login_queue:` (all defaults when absent). */
export const loginQueueSection = plainSection(section(loginQueueSchema));
