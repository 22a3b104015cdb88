import { z } from 'zod';
import { duration, nonEmpty, section, strict } from './shared.js';
import { refreshSchema } from './refresh.js';
import { extCommandSchema } from './ext.js';
import { jwtAuthSchema } from './jwt.js';
import { oidcAuthSchema } from './oidc.js';
import { ldapAuthSchema } from './ldap.js';
import { credentialCacheSchema } from './credential-cache.js';
import { catalogSchema } from './catalog.js';
import { lockoutSchema, logSchema, metricsSchema } from './ops.js';

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
  ext_authz: extCommandSchema.optional(),
  ldap_auth: ldapAuthSchema.optional(),
  oidc_auth: oidcAuthSchema.optional(),
  jwt_auth: jwtAuthSchema.optional(),
  acl: z.array(aclRule).default([]),
  // Absent or empty (`metrics:` with only comments under it) means all defaults.
  log: section(logSchema),
  metrics: section(metricsSchema),
  lockout: section(lockoutSchema),
  credential_cache: credentialCacheSchema.default(credentialCacheSchema.parse({})),
  catalog: catalogSchema.optional(),
});

/** The config as validated, before files are read and rules compiled. */
export type RawConfig = z.output<typeof configSchema>;
export type AclRuleSchema = z.output<typeof aclRule>;

/**
 * docker_auth sections that regauth does not implement: refused by name, so a migration
 * never silently drops an authenticator or an authorizer.
 */
export const UNSUPPORTED_DOCKER_AUTH_SECTIONS = [
  'google_auth',
  'github_auth',
  'gitlab_auth',
  'mongo_auth',
  'xorm_auth',
  'acl_mongo',
  'acl_xorm',
  'casbin_authz',
  'plugin_authn',
  'plugin_authz',
  'letsencrypt',
] as const;

/**
 * docker_auth `server:` keys that regauth does not implement, each with what to do instead:
 * refused by name (not as a generic unknown key), so a migration learns where the setting went.
 */
export const UNSUPPORTED_DOCKER_AUTH_SERVER_KEYS: Readonly<Record<string, string>> = {
  real_ip_header:
    'docker_auth key not supported by regauth; use server.trusted_proxies (X-Forwarded-For is read from those peers only)',
  real_ip_pos:
    'docker_auth key not supported by regauth; use server.trusted_proxies (the client is the right-most X-Forwarded-For address that is not a trusted proxy)',
  net: 'docker_auth key not supported by regauth; it listens on TCP only: give server.addr as [host]:port',
  hsts: 'docker_auth key not supported by regauth; terminate TLS at HAProxy and set Strict-Transport-Security there',
  tls_min_version:
    "docker_auth key not supported by regauth; terminate TLS at HAProxy or use the defaults (Node's, TLS 1.2 and later)",
  tls_curve_preferences:
    "docker_auth key not supported by regauth; terminate TLS at HAProxy or use the defaults (Node's)",
  tls_cipher_suites:
    "docker_auth key not supported by regauth; terminate TLS at HAProxy or use the defaults (Node's)",
  letsencrypt:
    'docker_auth section not supported by regauth; terminate TLS in HAProxy or give server.certificate and server.key',
};
