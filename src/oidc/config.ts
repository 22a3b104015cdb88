import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { Secret } from '../core/secret.js';
import { claimLabels, issuerUrl } from '../authn/jwt/config.js';
import { durationIn, instant, nonEmpty, revocationMap, strict } from '../core/schema.js';
import { defineSection } from '../core/section.js';

/** `oidc_auth`: browser login at an OpenID Connect provider that hands out registry app passwords. */
export const oidcAuthSchema = strict({
  issuer: issuerUrl,
  client_id: nonEmpty,
  client_secret: nonEmpty.optional(),
  client_secret_file: nonEmpty.optional(),
  /**
   * The `/oidc/callback` URL as the browser reaches it (through HAProxy), registered at the
   * provider. https, or http on loopback only (like the issuer): over http the login cookie
   * loses Secure and the app password page travels in clear.
   */
  redirect_url: issuerUrl,
  scopes: z
    .array(nonEmpty)
    .default(['openid', 'email'])
    .refine((s) => s.includes('openid'), { error: 'must include openid' }),
  user_claim: nonEmpty.default('email'),
  label_claims: claimLabels.default({}),
  /** The registry host shown in the `docker login` command. */
  registry_url: nonEmpty,
  /** Signs app passwords and the login cookie; at least 32 characters (`openssl rand -base64 48`). */
  secret_file: nonEmpty,
  app_password_expiration: durationIn(60, Infinity, 'must be at least 60 seconds').default(30 * 86400),
  /**
   * Per-account revocation: app passwords issued before this time are refused. RFC 3339 with a
   * zone, checked like `token.refresh.revoke_before`.
   */
  not_before: z.record(z.string(), instant, { error: 'must be a mapping of account to a time' }).default({}),
  timeout: durationIn(1, 60, 'must be between 1 and 60 seconds').default(10),
});

export type OidcAuthRaw = z.output<typeof oidcAuthSchema>;

/** `oidc_auth` with its files read and its times parsed. */
export interface OidcAuthConfig {
  readonly issuer: string;
  readonly clientId: string;
  /** Undefined for a public client (PKCE only). */
  readonly clientSecret: Secret | undefined;
  readonly redirectUrl: string;
  readonly scopes: readonly string[];
  readonly userClaim: string;
  readonly labelClaims: Readonly<Record<string, string>>;
  readonly registryUrl: string;
  readonly secret: Secret;
  /** Seconds. */
  readonly appPasswordExpiration: number;
  /** Folded account name (revocationMap) → Unix seconds; app passwords issued earlier are revoked. */
  readonly notBefore: ReadonlyMap<string, number>;
  /** Seconds, for requests to the provider. */
  readonly timeout: number;
}

/** The shortest `secret_file` accepted: 32 characters, about 192 bits as base64. */
const MIN_SECRET_LENGTH = 32;

/**
 * Reads `oidc_auth`'s files and checks what the schema cannot. `readFile(yamlPath, path)` reads
 * a file relative to the config (and records it for reload watching).
 */
export function loadOidcAuth(
  raw: OidcAuthRaw,
  resolvePath: (p: string) => string,
  readFile: (yamlPath: string, path: string) => string,
): OidcAuthConfig {
  if (raw.client_secret !== undefined && raw.client_secret_file !== undefined) {
    throw new ConfigError(
      'oidc_auth.client_secret_file',
      'give client_secret or client_secret_file, not both',
    );
  }
  const clientSecret =
    raw.client_secret_file !== undefined
      ? new Secret(readFile('oidc_auth.client_secret_file', resolvePath(raw.client_secret_file)).trim())
      : raw.client_secret !== undefined
        ? new Secret(raw.client_secret)
        : undefined;
  const secret = new Secret(readFile('oidc_auth.secret_file', resolvePath(raw.secret_file)).trim());
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      'oidc_auth.secret_file',
      `must hold at least ${MIN_SECRET_LENGTH} characters; make one with \`openssl rand -base64 48\``,
    );
  }
  return {
    issuer: raw.issuer,
    clientId: raw.client_id,
    clientSecret,
    redirectUrl: raw.redirect_url,
    scopes: raw.scopes,
    userClaim: raw.user_claim,
    labelClaims: raw.label_claims,
    registryUrl: raw.registry_url,
    secret,
    appPasswordExpiration: raw.app_password_expiration,
    notBefore: revocationMap(raw.not_before),
    timeout: raw.timeout,
  };
}

/** `oidc_auth:` the browser login that hands out registry app passwords. */
export const oidcSection = defineSection({
  schema: oidcAuthSchema.optional(),
  compile: (raw, ctx) => loadOidcAuth(raw, ctx.at, ctx.readFile),
});
