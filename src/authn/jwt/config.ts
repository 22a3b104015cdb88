import { z } from 'zod';
import { durationIn, strict, stringList } from '../../core/schema.js';
import { plainSection } from '../../core/section.js';

/**
 * Signature algorithms a CI token may use. Asymmetric only: `none` and the HMAC family (HS*)
 * are not accepted, since an HMAC key would have to be shared with the issuer.
 */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** An https:// URL, or http:// to a loopback host (a test or sidecar issuer). */
export const issuerUrl = z.string({ error: 'must be a URL' }).superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Its user and password (whatever stands before an `@` after the scheme) are not repeated.
    const shown = value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1…@');
    ctx.addIssue({ code: 'custom', message: `invalid URL ${JSON.stringify(shown)}` });
    return;
  }
  // An issuer is public, and fetch sends no URL with credentials: every fetch would fail, its
  // error quoting the URL, password and all, in the log.
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'must not hold a user or password' });
    return;
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  ctx.addIssue({
    code: 'custom',
    message: `must be an https:// URL (http:// only for a loopback host such as 127.0.0.1)`,
  });
});

/** 127.0.0.0/8, ::1 and localhost: the only hosts an `http://` issuer may have. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Which claims become labels: a list of claim names (the label takes the claim's name) or a
 * mapping of label name to claim name. Normalized to the mapping.
 */
export const claimLabels = z
  .union(
    [
      z.array(z.string().min(1)).transform((names) => Object.fromEntries(names.map((n) => [n, n]))),
      z.record(z.string(), z.string().min(1)),
    ],
    { error: 'must be a list of claim names, or a mapping of label name to claim name' },
  )
  .transform((m): Record<string, string> => m);

const trustedIssuer = strict({
  issuer: issuerUrl,
  audience: z.union(
    [
      z.string().min(1, { error: 'must not be empty' }),
      z.array(z.string().min(1)).min(1, { error: 'must list at least one audience' }),
    ],
    { error: 'must be a string or a list of strings' },
  ),
  jwks_uri: issuerUrl.optional(),
  account_claim: z.string().min(1).default('sub'),
  label_claims: claimLabels.default({}),
  /** Claims a token must carry: for each, one value or a list (any of them). */
  required_claims: z.record(z.string(), stringList).default({}),
  algorithms: z
    .array(
      z.enum(JWT_ALGORITHMS, {
        error: `must be one of ${JWT_ALGORITHMS.join(', ')} (none and HS* are not accepted)`,
      }),
    )
    .min(1)
    .default([...JWT_ALGORITHMS]),
});

/** `jwt_auth`: CI workload identity, OIDC ID tokens from trusted issuers used as the password. */
export const jwtAuthSchema = strict({
  issuers: z
    .array(trustedIssuer)
    .min(1, { error: 'must list at least one trusted issuer' })
    // Tokens are matched to an entry by `iss`: a second entry would silently replace the first
    // (and drop its required_claims).
    .superRefine((issuers, ctx) => {
      const first = new Map<string, number>();
      issuers.forEach((entry, i) => {
        const earlier = first.get(entry.issuer);
        if (earlier === undefined) first.set(entry.issuer, i);
        else
          ctx.addIssue({
            code: 'custom',
            path: [i, 'issuer'],
            message: `${JSON.stringify(entry.issuer)} is already listed at jwt_auth.issuers[${earlier}]; merge the two entries (audience may list several values)`,
          });
      });
    }),
  /** Clock skew allowed on exp/nbf/iat, seconds. */
  leeway: durationIn(0, 300, 'must be at most 300 seconds').default(30),
  /** How long to wait for discovery and JWKS responses, seconds. */
  timeout: durationIn(1, 60, 'must be between 1 and 60 seconds').default(5),
});

export type JwtAuthConfig = z.output<typeof jwtAuthSchema>;
export type TrustedIssuerConfig = z.output<typeof trustedIssuer>;

/** `jwt_auth:` CI identity tokens from trusted issuers, used as they are validated. */
export const jwtSection = plainSection(jwtAuthSchema.optional());
