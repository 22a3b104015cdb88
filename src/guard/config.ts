import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { duration, strict } from '../core/schema.js';

/**
 * Operations sections of the config: `log`, `metrics`, `lockout`, `login_queue`. Kept apart from schema.ts so
 * each concern owns its schema; every object is strict (unknown keys are errors).
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const logSchema = strict({
  /** pino level; REGAUTH_LOG_LEVEL in the environment wins (for debugging without editing the file). */
  level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** `auto`: readable lines when stdout is a terminal, JSON lines otherwise. */
  format: z.enum(['auto', 'json', 'pretty'], { error: 'must be one of auto, json, pretty' }).default('auto'),
  /**
   * How many distinct recent decisions (account, labels, client address, service, scope) to keep
   * in memory, so a reload logs how many of them it changes; 0 (the default) keeps none.
   */
  recent_decisions: z
    .number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(0, { error: 'must be at least 0' })
    .max(1_000_000, { error: 'must be at most 1000000' })
    .default(0),
});

export const metricsSchema = strict({
  /** Serve /metrics on this [host]:port only (not on the token listener). Absent: on the token listener. */
  addr: z
    .string({ error: 'must be a string' })
    .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/, {
      error: 'expected [host]:port, e.g. "127.0.0.1:9090"',
    })
    .optional(),
});

export const lockoutSchema = strict({
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  /** Failed password attempts per (account, client address) before the first delay. */
  max_failures: z.number().int().min(1, { error: 'must be at least 1' }).default(5),
  /** The first delay in seconds; each further failure doubles it. */
  backoff: duration.refine((s) => s >= 1, { error: 'must be at least 1 second' }).default(1),
  /** The longest delay in seconds. */
  max_backoff: duration.refine((s) => s >= 1, { error: 'must be at least 1 second' }).default(300),
  /** Seconds without a failure after which the count is forgotten. */
  forget_after: duration.refine((s) => s >= 1, { error: 'must be at least 1 second' }).default(900),
  /**
   * How many (account, address) pairs are remembered per class (accounts a backend vouched for;
   * other accounts), counting and locked ones each; the least recently used are dropped.
   */
  max_entries: z.number().int().min(1, { error: 'must be at least 1' }).default(10_000),
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
  account_max_failures: z.number().int().min(1, { error: 'must be at least 1' }).default(50),
  /** A client that logged in to an account within this many seconds is not held back by `account_max_failures`. */
  remember_success: duration
    .refine((s) => s >= 1, { error: 'must be at least 1 second' })
    .default(30 * 86_400),
});

/** Uncached logins per core that `login_queue.max_pending` allows by default. */
export const PENDING_LOGINS_PER_CORE = 16;

export const loginQueueSchema = strict({
  /**
   * Uncached logins (a password still to be checked) in flight at once, waiting or being
   * checked; past it a login is answered 503 at once. Default 16 per core: at bcrypt cost 10
   * (about 65 ms) the last one waits about a second.
   */
  max_pending: z
    .number()
    .int()
    .min(1, { error: 'must be at least 1' })
    .default(() => PENDING_LOGINS_PER_CORE * availableParallelism()),
  /** Uncached logins in flight per client address; past it that client is answered 429 at once. */
  per_client: z.number().int().min(1, { error: 'must be at least 1' }).default(8),
  /** The Retry-After of those answers, in seconds. */
  retry_after: duration.refine((s) => s >= 1, { error: 'must be at least 1 second' }).default(1),
});

export type LogConfig = z.output<typeof logSchema>;
export type MetricsConfig = z.output<typeof metricsSchema>;
export type LockoutConfig = z.output<typeof lockoutSchema>;
export type LoginQueueConfig = z.output<typeof loginQueueSchema>;
