import { z } from 'zod';
import { duration, durationIn, durationBetween, nonEmpty, section, strict } from '../core/schema.js';
import { sectionSchemas } from './sections.js';
import { refreshSchema } from '../token/refresh-config.js';

export { duration };

/**
 * The config file's top-level schema: `server:`, `token:` and `metrics:`, which src/config/ owns,
 * and every other section from the table in sections.ts. Shapes only; each section's compile step
 * and the cross-field checks run in load.ts. Every object is strict (src/core/schema.ts).
 */

/**
 * `server.path_prefix` when not empty: `/` and path characters (RFC 3986's unreserved ones and
 * `/`), never two `/` in a row nor one at the end. Also the JSON Schema's pattern (the same text,
 * read there with the `u` flag: it holds no character that flag reads otherwise).
 */
const PATH_PREFIX = /^(?!.*\/\/)\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~\-]$/;

export const metricsSchema = strict({
  /** Serve /metrics on this [host]:port only (not on the token listener). Absent: on the token listener. */
  addr: z
    .string({ error: 'must be a string' })
    .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/, {
      error: 'expected [host]:port, e.g. "127.0.0.1:9090"',
    })
    .optional(),
});

const server = strict({
  addr: nonEmpty.default(':5001'),
  path_prefix: z
    .string()
    .default('')
    .refine((p) => p === '' || PATH_PREFIX.test(p), {
      error: 'must be empty or a path like "/regauth" (leading slash, no trailing slash)',
    })
    .meta({ pattern: `^$|${PATH_PREFIX.source}` }),
  certificate: nonEmpty.optional(),
  key: nonEmpty.optional(),
  trusted_proxies: z.array(nonEmpty).default([]),
  /** Open client connections at most; past it a new connection is closed at once. */
  max_connections: z
    .number({ error: 'must be a positive integer' })
    .int({ error: 'must be a positive integer' })
    .min(1, { error: 'must be a positive integer' })
    .default(512),
  /** Seconds a client has to send the whole request header (idle connections included). */
  headers_timeout: durationBetween(
    1,
    600,
    () => 'must be a duration between 1 second and 10 minutes',
  ).default(5),
  /** Seconds a client has to send the whole request, header and body. */
  request_timeout: durationBetween(
    1,
    600,
    () => 'must be a duration between 1 second and 10 minutes',
  ).default(10),
});

const token = strict({
  issuer: nonEmpty,
  expiration: durationIn(60, Infinity, 'must be at least 60 seconds').default(900),
  certificate: nonEmpty.optional(),
  key: nonEmpty.optional(),
  disable_legacy_key_id: z.boolean().default(false),
  x5c: z.boolean().default(true),
  services: z.array(nonEmpty).default([]),
  refresh: refreshSchema,
});

export const configSchema = strict({
  server: server.default(server.parse({})),
  token,
  ...sectionSchemas,
  // Absent or empty (`metrics:` with only comments under it) means all defaults.
  metrics: section(metricsSchema),
});

/** The config as validated, before files are read and rules compiled. */
export type RawConfig = z.output<typeof configSchema>;
export type MetricsConfig = z.output<typeof metricsSchema>;
