/**
 * Found by a review of jwt_auth: a key in the issuer's JWKS that cannot be used lets anyone turn
 * a forged token into a 503 and an error-level "cannot fetch the keys" line.
 *
 * The defect: `isUnreachable` (src/authn/jwt/authenticator.ts) treats every error that is not a
 * JOSEError as "could not get the keys". But the key set was fetched: the error comes from
 * importing or checking the ONE key the token's own header picked (kid/alg) — WebCrypto's
 * DataError for a malformed key, jose's TypeError "RS256 requires key modulusLength to be 2048
 * bits or larger" for a legacy 1024-bit RSA key, and jose's JWKSInvalid for a non-public member.
 * Whoever names that kid in a token (forged, unsigned: the signature is never looked at) gets
 * 503 with Retry-After, an error-level audit line "jwt_auth: cannot fetch the keys of <issuer>",
 * and a count in regauth_authenticator_errors_total{backend="jwt_auth"} — per request, since the lockout
 * leaves claimed tokens alone and no pause applies (nothing was fetched). An operator is told
 * the issuer is down while it is up, and the backend's error alert is anyone's to raise. A real
 * job whose token the issuer signed with such a key is told "retry later" for ever.
 *
 * What the docs promise (docs/backends/ci-identity.md, "Checks and outcomes"): "a token that fails
 * a check is 401; an issuer whose keys cannot be fetched is 503". config.example.yml: "A token
 * from a listed issuer that fails a check (signature, algorithm, ...) is refused (401). Discovery
 * or JWKS unreachable: 503." Here the keys were fetched (one fetch, which worked) and the token
 * fails the signature check.
 *
 * Suggested fix: decide "unreachable" by where the error came from, not by its class: have the key
 * set's fetch (fetchKeySet, and discovery) throw a marked error (e.g. a BackendUnavailableError,
 * or wrap it) and keep JWKSTimeout / ERR_JOSE_GENERIC from jose's own fetch; every other error out
 * of jwtVerify — a key the header selects that cannot be imported or is too weak included — is a
 * token that fails its check: `denied` (401), with a reason such as "token rejected: unusable key".
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { Secret } from '../../src/core/secret.js';
import { basic, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let jwksServer: Server;
let url = '';
let fetches = 0;
const tmp = tempDir();
let s: TestServer;

beforeAll(async () => {
  // The issuer's own key, as every token it signs names it.
  const current: JWK = {
    ...(await exportJWK((await generateKeyPair('ES256')).publicKey)),
    kid: 'current',
    alg: 'ES256',
    use: 'sig',
  };
  // A legacy RSA key still published (1024 bits: jose refuses to verify with it).
  const legacy: JWK = {
    ...(await exportJWK(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)),
    kid: 'legacy',
    use: 'sig',
  };
  // A key whose point is not on its curve (a broken entry: WebCrypto's import refuses it).
  const broken: JWK = { ...current, kid: 'broken', x: `${current.x!.slice(0, -4)}AAAA` };
  jwksServer = createServer((_req, res) => {
    fetches += 1;
    res
      .setHeader('content-type', 'application/json')
      .end(JSON.stringify({ keys: [current, legacy, broken] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
jwt_auth:
  issuers:
    - issuer: ${url}
      audience: registry.test
      jwks_uri: ${url}/jwks
      account_claim: repository
acl: [{match: {}, actions: [pull]}]
`,
  });
});
afterAll(async () => {
  await s.server.close(100);
  jwksServer.closeAllConnections();
  await new Promise<void>((r) => jwksServer.close(() => r()));
  tmp.cleanup();
});

/** A token nobody signed: a header naming `kid`, the claims of a job, and a garbage signature. */
function forged(alg: string, kid: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg, kid })}.${part({ iss: url, aud: 'registry.test', repository: 'acme/app', exp: now + 300 })}.AAAA`;
}

test.each([
  ['a 1024-bit RSA key', 'RS256', 'legacy'],
  ['a malformed EC key', 'ES256', 'broken'],
])(
  'a forged token naming %s of the JWKS fails its check: denied, not "keys cannot be fetched"',
  async (_what, alg, kid) => {
    const authn = new JwtAuthenticator(
      jwtAuthSchema.parse({
        issuers: [
          { issuer: url, audience: 'registry.test', jwks_uri: `${url}/jwks`, account_claim: 'repository' },
        ],
      }),
    );
    const result = await authn
      .authenticate({ account: 'acme/app', password: new Secret(forged(alg, kid)) })
      .catch((e: unknown) => `threw ${(e as Error).constructor.name}: ${(e as Error).message}`);
    expect(result).toMatchObject({ outcome: 'denied' });
  },
);

test('over HTTP: 401, as a token that fails a check is; the issuer answered, so no 503 and no error line', async () => {
  const before = fetches;
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${s.url}/auth?service=registry&scope=repository:acme/app:pull`, {
      headers: { authorization: basic('acme/app', forged('RS256', 'legacy')) },
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  // The key set was fetched (once, and it worked): the issuer is not down.
  expect(fetches - before).toBeLessThanOrEqual(1);
  expect(statuses).toEqual([401, 401, 401]);
  expect(s.logs.join('')).not.toContain('cannot fetch the keys');
});
