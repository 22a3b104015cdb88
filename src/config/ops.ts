import { z } from 'zod';
import { duration, strict } from './shared.js';

/**
 * Operations sections of the config: `log`, `metrics`, `lockout`. Kept apart from schema.ts so
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
  /** How many (account, address) pairs are remembered; the least recently used are dropped. */
  max_entries: z.number().int().min(1, { error: 'must be at least 1' }).default(10_000),
});

export type LogConfig = z.output<typeof logSchema>;
export type MetricsConfig = z.output<typeof metricsSchema>;
export type LockoutConfig = z.output<typeof lockoutSchema>;
