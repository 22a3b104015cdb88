import type { KeyObject, X509Certificate } from 'node:crypto';

/** JWS algorithms the registry (libtrust v2.8, go-jose v3) accepts for our keys. */
export type SigningAlg = 'ES256' | 'ES384' | 'ES512' | 'RS256';

/** The token signing key, imported once at load. */
export interface SigningKey {
  readonly alg: SigningAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The `kid` header: libtrust key ID, or the registry v3 thumbprint when `disable_legacy_key_id`. */
  readonly kid: string;
  /** libtrust key ID (registry v2.8), always computed. */
  readonly libtrustKid: string;
  /** Thumbprint computed the way registry v3 does (docs/registry-compatibility.md "Key IDs"). */
  readonly v3Kid: string;
  /** Certificate chain, leaf first (base64 DER), for the `x5c` header; empty when x5c is disabled. */
  readonly x5c: readonly string[];
  /** The parsed certificates of the chain, leaf first. */
  readonly certificates: readonly X509Certificate[];
}

/** One entry of the `access` claim, as the registry reads it. */
export interface AccessEntry {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** Claims that vary per token; iss/iat/nbf/exp/jti are added by the signer. */
export interface AccessTokenClaims {
  readonly subject: string;
  /** Token `aud` (the requested service), always a plain string. */
  readonly audience: string;
  readonly access: readonly AccessEntry[];
  /**
   * The account's labels, only in tokens for the filtered catalog's own service
   * (docs/catalog.md): it decides with them as the token endpoint would. Registry tokens never
   * carry them.
   */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
}
