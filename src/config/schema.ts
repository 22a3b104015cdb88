import { z } from 'zod';
import { duration, durationBetween, nonEmpty, section, strict } from '../core/schema.js';
import { refreshSchema } from '../token/refresh-config.js';
import { extAuthzSchema, extCommandSchema } from '../ext/config.js';
import { jwtAuthSchema } from '../authn/jwt/config.js';
import { oidcAuthSchema } from '../oidc/config.js';
import { ldapAuthSchema } from '../authn/ldap/config.js';
import { credentialCacheSchema } from '../authn/cache-config.js';
import { catalogSchema } from '../catalog/config.js';
import { lockoutSchema, loginQueueSchema, logSchema, metricsSchema } from '../guard/config.js';

export { duration };

/**
 * The config file's schema: what each key may hold. Shapes only; cross-field checks and
 * compilation (ACL, keys, files) happen in load.ts. Every object is strict (see shared.ts).
 */

/** `{group: [admins]}`; a single string is taken as a one-value list. */
const labels = z.record(
  z.string(),
  z.union([z.string().transform((s) => [s]), z.array(z.string({ error: 'label values must be strings' }))]),
  { error: 'must be a mapping of label name to a list of values' },
);

const server = strict({
  addr: nonEmpty.default(':5001'),
  path_prefix: z
    .string()
    .default('')
    .refine((p) => p === '' || (/^\/[A-Za-z0-9._~\-/]*[^/]$/.test(p) && !p.includes('//')), {
      error: 'must be empty or a path like "/regauth" (leading slash, no trailing slash)',
    }),
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
  expiration: duration.default(900).refine((s) => s >= 60, { error: 'must be at least 60 seconds' }),
  certificate: nonEmpty.optional(),
  key: nonEmpty.optional(),
  disable_legacy_key_id: z.boolean().default(false),
  x5c: z.boolean().default(true),
  services: z.array(nonEmpty).default([]),
  refresh: refreshSchema,
});

const user = strict({
  password: nonEmpty.optional(),
  labels: labels.default({}),
});

const pattern = z.string({ error: 'must be a string (a glob or a /regex/)' });

const aclRule = strict({
  match: strict({
    account: pattern.optional(),
    type: pattern.optional(),
    name: pattern.optional(),
    service: pattern.optional(),
    ip: pattern.optional(),
    labels: z.record(z.string(), pattern).optional(),
  }),
  actions: z.array(z.string({ error: 'actions must be strings' }), { error: 'must be a list of actions' }),
  comment: z.string().optional(),
});

export const configSchema = strict({
  server: server.default(server.parse({})),
  token,
  users: z
    .record(
      z.string(),
      user.nullable().transform((u) => u ?? { labels: {} }),
    )
    .optional(),
  users_file: nonEmpty.optional(),
  ext_auth: extCommandSchema.optional(),
  ext_authz: extAuthzSchema.optional(),
  ldap_auth: ldapAuthSchema.optional(),
  oidc_auth: oidcAuthSchema.optional(),
  jwt_auth: jwtAuthSchema.optional(),
  acl: z.array(aclRule).default([]),
  // Absent or empty (`metrics:` with only comments under it) means all defaults.
  log: section(logSchema),
  metrics: section(metricsSchema),
  lockout: section(lockoutSchema),
  login_queue: section(loginQueueSchema),
  credential_cache: credentialCacheSchema.default(credentialCacheSchema.parse({})),
  catalog: catalogSchema.optional(),
});

/** The config as validated, before files are read and rules compiled. */
export type RawConfig = z.output<typeof configSchema>;
export type AclRuleSchema = z.output<typeof aclRule>;
