import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/**
 * A CI token issuer on 127.0.0.1 (like GitHub Actions' or GitLab's): it serves OIDC discovery
 * and a JWKS, and signs ID tokens with keys generated at test time.
 */
export interface TestIssuer {
  /** `http://127.0.0.1:PORT` (the `iss` of its tokens). */
  readonly url: string;
  /** Signs a token with the published key (or `options.key`, `options.kid`). */
  sign(claims: JWTPayload, options?: SignOptions): Promise<string>;
  /** An `alg: none` token with the given claims. */
  unsigned(claims: JWTPayload): string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  stop(): Promise<void>;
}

export interface SignOptions {
  /** Sign with this private key instead of the published one. */
  readonly key?: CryptoKey;
  readonly kid?: string;
  /** Seconds from now; negative for an expired token. Default 300. */
  readonly expiresIn?: number;
  readonly notBefore?: number;
}

/** Starts the issuer on a free loopback port. */
export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'ES256', use: 'sig' };
  let fetches = 0;
  let url = '';
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/jwks`,
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
        }),
      );
    } else if (req.url === '/jwks') {
      fetches += 1;
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const now = () => Math.floor(Date.now() / 1000);
  return {
    url,
    async sign(claims, options = {}) {
      const jwt = new SignJWT({
        iss: url,
        iat: now(),
        exp: now() + (options.expiresIn ?? 300),
        ...claims,
      }).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: options.kid ?? jwk.kid! });
      if (options.notBefore !== undefined) jwt.setNotBefore(now() + options.notBefore);
      return jwt.sign(options.key ?? privateKey);
    },
    unsigned(claims) {
      return new UnsecuredJWT({ iss: url, iat: now(), exp: now() + 300, ...claims }).encode();
    },
    jwksFetches: () => fetches,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
