import { randomBytes, type JsonWebKey, type SignKeyObjectInput } from 'node:crypto';
import { MAX_BATCH, signJws, startSignPool, type SignJob } from './sign-pool.js';
import type { AccessTokenClaims, SigningAlg, SigningKey } from './types.js';

/** Signs one registry access token; `now` is unix seconds. */
export type TokenSigner = (
  claims: AccessTokenClaims,
  now: number,
  expiresInSeconds: number,
) => Promise<string>;

/**
 * A signer bound to one key and issuer, for the request hot path: the JWS header is encoded once
 * here, each call only serializes the claims and signs. The signature itself is computed in a
 * worker thread (sign-pool.ts), not on the event loop: an ES256 signature is the largest single
 * cost of a token request, and while it runs on another core the event loop goes on parsing,
 * authorizing and answering other requests; the signatures of one event-loop turn travel
 * together.
 *
 * The token is what both registry v2.8 and v3 accept (docs/registry-compatibility.md "The token"):
 * header `{alg, typ: "JWT", kid, x5c?}` (no `jwk`, no `crit`), claims `{iss, sub, aud, exp, nbf,
 * iat, jti, access}` with `aud` a plain string and integer times, unpadded base64url, and ECDSA
 * signatures as raw R||S.
 */
export function createTokenSigner(key: SigningKey, issuer: string): TokenSigner {
  const prepared = prepare(key);
  // The signing thread starts with the signer, not with the first token request.
  startSignPool();
  return (claims, now, expiresInSeconds) => signWith(prepared, issuer, claims, now, expiresInSeconds);
}

/** Signs one access token; see {@link createTokenSigner}, which callers on the hot path should prefer. */
export function signAccessToken(
  key: SigningKey,
  claims: AccessTokenClaims,
  opts: { issuer: string; expiresInSeconds: number; now: number },
): Promise<string> {
  return signWith(prepare(key), opts.issuer, claims, opts.now, opts.expiresInSeconds);
}

interface Prepared {
  /** `base64url(header) + "."` */
  readonly headerPrefix: string;
  readonly job: SignJob;
}

const HASHES: Readonly<Record<SigningAlg, string>> = {
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  RS256: 'sha256',
};

const preparedKeys = new WeakMap<SigningKey, Prepared>();

function prepare(key: SigningKey): Prepared {
  let prepared = preparedKeys.get(key);
  if (!prepared) {
    const header: Record<string, unknown> = { alg: key.alg, typ: 'JWT', kid: key.kid };
    if (key.x5c.length > 0) header.x5c = key.x5c;
    prepared = {
      headerPrefix: `${base64url(JSON.stringify(header))}.`,
      job: {
        hash: HASHES[key.alg],
        // JWS wants ECDSA signatures as fixed-size R||S (RFC 7518 §3.4); Node defaults to DER.
        // The dsaEncoding option is ignored for RSA keys (PKCS#1 v1.5 padding is the default).
        key: { key: key.privateKey, dsaEncoding: 'ieee-p1363' } satisfies SignKeyObjectInput,
        // ES256 signatures take tens of µs and travel in batches; the others go one by one.
        maxBatch: key.alg === 'ES256' ? MAX_BATCH : 1,
      },
    };
    preparedKeys.set(key, prepared);
  }
  return prepared;
}

function signWith(
  prepared: Prepared,
  issuer: string,
  claims: AccessTokenClaims,
  now: number,
  expiresInSeconds: number,
): Promise<string> {
  if (!Number.isSafeInteger(now)) {
    return Promise.reject(new TypeError('"now" must be an integer number of unix seconds'));
  }
  if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds <= 0) {
    return Promise.reject(new TypeError('"expiresInSeconds" must be a positive integer'));
  }
  // Property order is the order the registry docs show; only type/name/actions are copied,
  // so no `class` (deprecated in distribution's docs/spec/auth/scope.md) or stray property reaches
  // the token.
  const payload = {
    iss: issuer,
    sub: claims.subject,
    aud: claims.audience,
    exp: now + expiresInSeconds,
    nbf: now,
    iat: now,
    jti: nextJti(),
    access: claims.access.map((a) => ({ type: a.type, name: a.name, actions: a.actions })),
    ...(claims.labels ? { labels: claims.labels } : {}),
  };
  return signJws(prepared.job, prepared.headerPrefix + base64url(JSON.stringify(payload)));
}

/**
 * 128 random bits per token ID, cut from a buffer refilled 256 IDs at a time: a synchronous
 * `randomBytes(16)` per token was one of the larger costs on the token path (one call into the
 * CSPRNG per request instead of one per 256). The bytes are used once and never exposed otherwise.
 */
const JTI_BYTES = 16;
let jtiPool = Buffer.alloc(0);
let jtiOffset = 0;
function nextJti(): string {
  if (jtiOffset + JTI_BYTES > jtiPool.length) {
    jtiPool = randomBytes(JTI_BYTES * 256);
    jtiOffset = 0;
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + JTI_BYTES);
  jtiOffset += JTI_BYTES;
  return jti;
}

/** Node's base64url encoding has no `=` padding, as JWS requires (v3 rejects padding). */
function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** A public JWK as published in the JWKS. */
export interface PublicJwk extends JsonWebKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly use: 'sig';
}

/**
 * The public signing key(s) as a JWKS, for `/.well-known/jwks.json` and registry v3's
 * `auth.token.jwks` file. v3 trusts each JWKS key under its `kid` verbatim
 * (docs/registry-compatibility.md "JWKS for registry 3"; distribution's
 * registry/auth/token/accesscontroller.go), so every key is published twice:
 * - under the v3 thumbprint, the kid we emit with `disable_legacy_key_id: true`;
 * - under the libtrust key ID, the kid we emit by default, so a v3 registry given this JWKS also
 *   accepts kid-only tokens (x5c off) whose kid is the libtrust ID. Without this entry such tokens
 *   fail on v3 with "token signed by untrusted key" (distribution#4299).
 * The two entries hold the same key, so publishing both widens nothing.
 */
export function jwks(keys: readonly SigningKey[]): { keys: PublicJwk[] } {
  return {
    keys: keys.flatMap((key) => {
      const jwk = key.publicKey.export({ format: 'jwk' });
      const kids = key.v3Kid === key.libtrustKid ? [key.v3Kid] : [key.v3Kid, key.libtrustKid];
      return kids.map((kid): PublicJwk => ({ ...jwk, kid, alg: key.alg, use: 'sig' }));
    }),
  };
}
