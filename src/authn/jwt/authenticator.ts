import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import * as oidc from 'openid-client';
import type { Labels } from '../../authz/types.js';
import { isLoopbackHost, type JwtAuthConfig, type TrustedIssuerConfig } from './config.js';
import { BackendUnavailableError } from '../../core/errors.js';
import { failureReason, fetchAtMost } from '../../core/fetch.js';
import type { Authenticator, AuthnResult, Credentials } from '../types.js';

/** Three base64url parts; the signature may be empty (an `alg: none` token, refused below). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The longest token considered: ID tokens are a few KiB; this bounds decoding work. */
const MAX_TOKEN_LENGTH = 16 * 1024;

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** How long a failed discovery, or key set fetch, is answered again before the issuer is asked anew. */
const RETRY_MS = 5_000;

/** How long keys go on working after the last fetch of their set that worked. */
const KEYS_TRUSTED_MS = 10 * 60_000;

/** One trusted issuer, with its key set resolved lazily (discovery happens on first use). */
class TrustedIssuer {
  readonly config: TrustedIssuerConfig;
  readonly #timeoutSeconds: number;
  #keys: KeySet | undefined;
  #resolving: Promise<KeySet> | undefined;
  /** When the key set was last fetched and read, in ms (never: -Infinity). */
  #fetchedAt = -Infinity;
  readonly #discovery = pausedAfterFailure(
    () => this.#discover(),
    (err) => err instanceof BackendUnavailableError,
  );

  constructor(config: TrustedIssuerConfig, timeoutSeconds: number) {
    this.config = config;
    this.#timeoutSeconds = timeoutSeconds;
    if (config.jwks_uri) this.#keys = this.#keySet(new URL(config.jwks_uri));
  }

  /** The issuer's key set; the first call runs OIDC discovery when no `jwks_uri` is configured. */
  async keys(): Promise<KeySet> {
    if (this.#keys) return this.#keys;
    // One discovery at a time; a failed one is answered again for a few seconds.
    this.#resolving ??= this.#discovery().finally(() => (this.#resolving = undefined));
    return this.#resolving;
  }

  async #discover(): Promise<KeySet> {
    const issuer = new URL(this.config.issuer);
    let metadata: oidc.ServerMetadata;
    try {
      const configuration = await oidc.discovery(issuer, 'regauth', undefined, undefined, {
        timeout: this.#timeoutSeconds,
        [oidc.customFetch]: (input, init) => fetchAtMost(input, init),
        ...(issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      metadata = configuration.serverMetadata();
    } catch (err) {
      throw new BackendUnavailableError(
        'jwt_auth',
        `discovery failed for ${this.config.issuer}: ${failureReason(err)}`,
        { cause: err },
      );
    }
    // Whatever the document holds: a relative path, text or a number is no key set URL, and a
    // failure like any other (answered again for RETRY_MS, not asked again per token).
    const jwksUri: unknown = metadata.jwks_uri;
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
      throw new BackendUnavailableError('jwt_auth', `${this.config.issuer} publishes no absolute jwks_uri`);
    }
    const url = new URL(jwksUri);
    // The loopback exception for http:// applies to the discovered key URL too.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw new BackendUnavailableError('jwt_auth', `${this.config.issuer} publishes a non-https jwks_uri`);
    }
    this.#keys = this.#keySet(url);
    return this.#keys;
  }

  /**
   * Until when (Unix seconds) a token its keys verified now may be taken as verified: the keys
   * are trusted for KEYS_TRUSTED_MS after the last fetch of their set, and a success the credential
   * cache remembers must not outlive them (a withdrawn key, an issuer gone down).
   */
  trustedUntil(): number {
    return Math.floor((this.#fetchedAt + KEYS_TRUSTED_MS) / 1000);
  }

  #keySet(url: URL): KeySet {
    // jose caches the set, refetches it on an unknown kid at most once per cooldown, and
    // refreshes it after cacheMaxAge. Its cooldown counts from a fetch that worked: a fetch that
    // failed is answered again here for RETRY_MS. Keys still cached go on working while the issuer
    // is down, until cacheMaxAge after the last fetch that worked: then every token waits for a
    // fetch, and fails with it (a withdrawn key is not trusted for longer).
    // Every failure of the fetch is a BackendUnavailableError (503), and only those: an error
    // past it (a key the token's header picks that cannot be used) is the token's (401), which
    // anyone could otherwise turn into an outage with a forged token naming such a key.
    const fetchKeySet = pausedAfterFailure(async (input: string, init: RequestInit): Promise<Response> => {
      try {
        const response = await fetchAtMost(input, init);
        if (response.status !== 200) {
          throw Object.assign(new Error(`the key set answered HTTP ${response.status}`), {
            status: response.status,
          });
        }
        // What jose would refuse after this returns (not JSON, not a key set) fails here, so that
        // it is answered again too.
        createLocalJWKSet((await response.clone().json()) as JSONWebKeySet);
        this.#fetchedAt = Date.now();
        return response;
      } catch (err) {
        throw new BackendUnavailableError(
          'jwt_auth',
          `cannot fetch the keys of ${this.config.issuer}: ${failureReason(err)}`,
          { cause: err },
        );
      }
    });
    return createRemoteJWKSet(url, {
      timeoutDuration: this.#timeoutSeconds * 1000,
      cooldownDuration: 30_000,
      cacheMaxAge: KEYS_TRUSTED_MS,
      [customFetch]: fetchKeySet,
    });
  }
}

/**
 * `ask`, whose failure (one `remember` keeps) is answered again for RETRY_MS before it is asked
 * anew: tokens naming an issuer that is down (forged ones too, which the lockout leaves alone)
 * must not each ask it.
 */
function pausedAfterFailure<A extends unknown[], R>(
  ask: (...args: A) => Promise<R>,
  remember: (err: unknown) => boolean = () => true,
): (...args: A) => Promise<R> {
  let failed: { readonly error: unknown; readonly at: number } | undefined;
  return async (...args) => {
    if (failed && Date.now() - failed.at < RETRY_MS) throw failed.error;
    try {
      return await ask(...args);
    } catch (error) {
      if (remember(error)) failed = { error, at: Date.now() };
      throw error;
    }
  };
}

/**
 * `jwt_auth`: CI workload identity. A job logs in with its OIDC ID token (GitHub Actions,
 * GitLab CI `id_tokens`, Kubernetes service-account tokens) as the password and the token's
 * account claim as the user name.
 *
 * - Not a JWT, or a JWT from an issuer not in the list: no match (ask the next backend).
 * - From a trusted issuer but failing any check (signature, algorithm, iss, aud, exp/nbf,
 *   required claims, account claim ≠ user name): denied.
 * - Discovery or JWKS unreachable: BackendUnavailableError (HTTP 503).
 *
 * No `lookup`: CI tokens live minutes, so they do not back refresh tokens.
 */
export class JwtAuthenticator implements Authenticator {
  readonly name = 'jwt_auth';
  readonly #issuers: ReadonlyMap<string, TrustedIssuer>;
  readonly #leeway: number;

  constructor(config: JwtAuthConfig) {
    this.#issuers = new Map(config.issuers.map((i) => [i.issuer, new TrustedIssuer(i, config.timeout)]));
    this.#leeway = config.leeway;
  }

  /** A password in a JWT's form whose `iss` is one of the trusted issuers is this backend's alone. */
  claims({ password }: Credentials): boolean {
    return password !== undefined && this.#issuerOf(password.reveal()) !== undefined;
  }

  /**
   * The trusted issuer a token in a JWT's form names, unverified (or undefined): its `iss` only
   * picks which issuer's keys and rules apply; jwtVerify checks it.
   */
  #issuerOf(token: string): TrustedIssuer | undefined {
    if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return undefined;
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      return undefined;
    }
    return typeof unverified.iss === 'string' ? this.#issuers.get(unverified.iss) : undefined;
  }

  async authenticate({ account, password }: Credentials): Promise<AuthnResult> {
    if (password === undefined) return { outcome: 'no_match' };
    const token = password.reveal();
    const issuer = this.#issuerOf(token);
    if (!issuer) return { outcome: 'no_match' };
    const rules = issuer.config;

    let payload: JWTPayload;
    const options: JWTVerifyOptions = {
      issuer: rules.issuer,
      audience: rules.audience,
      algorithms: rules.algorithms,
      clockTolerance: this.#leeway,
      requiredClaims: ['exp'],
    };
    try {
      ({ payload } = await verifyWithAnyKey(token, await issuer.keys(), options));
    } catch (err) {
      // The key set's fetch (its timeout included) fails as BackendUnavailableError (#keySet).
      if (err instanceof BackendUnavailableError) throw err;
      // Anything else failed on this token: a check, or the key its header picks (a malformed
      // key, an RSA key under 2048 bits), which jose and WebCrypto throw as errors of their own.
      const code = err instanceof errors.JOSEError ? err.code : 'the key it names cannot be used';
      return { outcome: 'denied', reason: `token rejected: ${code}` };
    }

    const subject = payload[rules.account_claim];
    if (typeof subject !== 'string') {
      return { outcome: 'denied', reason: `claim ${rules.account_claim} is not a single string` };
    }
    // "" is the anonymous account in the ACL: no token stands for it.
    if (subject === '') return { outcome: 'denied', reason: `claim ${rules.account_claim} is empty` };
    if (subject !== account) {
      return { outcome: 'denied', reason: `user name differs from claim ${rules.account_claim}` };
    }
    for (const [claim, allowed] of Object.entries(rules.required_claims)) {
      if (!claimStrings(payload[claim]).some((v) => allowed.includes(v))) {
        return { outcome: 'denied', reason: `claim ${claim} has no allowed value` };
      }
    }
    return {
      outcome: 'authenticated',
      labels: labelsFrom(payload, rules.label_claims),
      // jwtVerify required exp: the credential cache forgets this success when the token expires,
      // or when the keys that verified it are no longer trusted, whichever comes first.
      expiresAt: Math.min(typeof payload.exp === 'number' ? payload.exp : Infinity, issuer.trustedUntil()),
    };
  }
}

/** The most keys of the set tried for one token when several fit its header. */
const MAX_MATCHING_KEYS = 4;

/**
 * jwtVerify against the key set; when several of its keys fit the token's header (one `kid`
 * published for an old and a new key, or no `kid` and two keys of the token's type), each is
 * tried in turn, up to MAX_MATCHING_KEYS, as jose leaves to its caller: the token is refused
 * only when none verifies it. A key that cannot be used (an RSA key under 2048 bits, which jose
 * throws a TypeError for) is passed over as one that does not verify, so an issuer still
 * publishing a legacy key beside its current one is not refused by the order of its list; a key
 * that verifies the signature decides, its claims' checks included.
 */
async function verifyWithAnyKey(
  token: string,
  keys: KeySet,
  options: JWTVerifyOptions,
): Promise<{ payload: JWTPayload }> {
  try {
    return await jwtVerify(token, keys, options);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    let tried = 0;
    let unusable: unknown;
    let unverified = false;
    for await (const key of err) {
      if (++tried > MAX_MATCHING_KEYS) break;
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        if (inner instanceof errors.JWSSignatureVerificationFailed) unverified = true;
        else if (verifiedSignature(inner)) throw inner;
        else unusable ??= inner;
      }
    }
    throw unverified || unusable === undefined ? new errors.JWSSignatureVerificationFailed() : unusable;
  }
}

/** An error jwtVerify throws only once the signature verified: the claims or the payload failed. */
function verifiedSignature(err: unknown): boolean {
  return (
    err instanceof errors.JWTClaimValidationFailed ||
    err instanceof errors.JWTExpired ||
    err instanceof errors.JWTInvalid
  );
}

/** A claim as strings: a string, a number or boolean as text, or the strings of a list. */
export function claimStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'string' ? [v] : []));
  return [];
}

/** Labels from claims (`{label: claim}`); a missing or empty claim gives no label. */
export function labelsFrom(
  payload: Record<string, unknown>,
  mapping: Readonly<Record<string, string>>,
): Labels {
  const labels: Record<string, string[]> = {};
  for (const [label, claim] of Object.entries(mapping)) {
    // An empty value is no value: GitHub sends `head_ref: ""` outside pull requests, and a label
    // [""] would match `*` and make a rule on ${labels:head_ref} decide (docs/acl.md).
    const values = claimStrings(payload[claim]).filter((v) => v !== '');
    if (values.length > 0) labels[label] = values;
  }
  return labels;
}
