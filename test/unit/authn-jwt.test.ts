import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, generateKeyPair, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

const AUDIENCE = 'registry.test';
const REPO = 'acme/app';

let issuer: TestIssuer;
let other: TestIssuer;
let authn: JwtAuthenticator;

const github = (extra: Record<string, unknown> = {}) => ({
  aud: AUDIENCE,
  sub: `repo:${REPO}:ref:refs/heads/main`,
  repository: REPO,
  repository_owner: 'acme',
  ref: 'refs/heads/main',
  ...extra,
});

beforeAll(async () => {
  issuer = await startTestIssuer();
  other = await startTestIssuer();
  authn = new JwtAuthenticator(
    jwtAuthSchema.parse({
      issuers: [
        {
          issuer: issuer.url,
          audience: AUDIENCE,
          account_claim: 'repository',
          label_claims: ['repository', 'repository_owner', 'ref'],
          required_claims: { repository_owner: ['acme', 'acme-labs'] },
        },
      ],
    }),
  );
});
afterAll(async () => {
  await issuer.stop();
  await other.stop();
});

const login = (account: string, password: string | undefined) =>
  authn.authenticate({ account, password: password === undefined ? undefined : new Secret(password) });

describe('jwt_auth', () => {
  test('a good token authenticates with its claims as labels, and says when it expires', async () => {
    const token = await issuer.sign(github());
    expect(await login(REPO, token)).toEqual({
      outcome: 'authenticated',
      labels: { repository: [REPO], repository_owner: ['acme'], ref: ['refs/heads/main'] },
      expiresAt: decodeJwt(token).exp,
    });
  });

  test('an empty account claim is denied: it would name the anonymous account', async () => {
    const token = await issuer.sign(github({ repository: '' }));
    expect(await login('', token)).toEqual({
      outcome: 'denied',
      reason: 'claim repository is empty',
    });
  });

  test('the account claim must be one string: a list holding it is denied', async () => {
    const token = await issuer.sign(github({ repository: [REPO, 5, { x: 1 }] }));
    expect(await login(REPO, token)).toEqual({
      outcome: 'denied',
      reason: 'claim repository is not a single string',
    });
  });

  test.each([
    ['expired', () => issuer.sign(github(), { expiresIn: -120 })],
    ['not yet valid', () => issuer.sign(github(), { notBefore: 120 })],
    ['wrong audience', () => issuer.sign(github({ aud: 'other.registry' }))],
    ['alg none', async () => issuer.unsigned(github())],
    ['unknown kid', () => issuer.sign(github(), { kid: 'nobody-knows-me' })],
    [
      'signed by another key under the published kid',
      async () => issuer.sign(github(), { key: (await generateKeyPair('ES256')).privateKey }),
    ],
    ['a required claim with another value', () => issuer.sign(github({ repository_owner: 'evil' }))],
    ['without exp', () => issuer.sign(github({ exp: undefined }))],
  ])('%s: denied', async (_name, token) => {
    expect(await login(REPO, await token())).toMatchObject({ outcome: 'denied' });
  });

  test('the user name must be the account claim', async () => {
    expect(await login('acme/other', await issuer.sign(github()))).toMatchObject({ outcome: 'denied' });
  });

  test('an expired token within the leeway still passes', async () => {
    expect(await login(REPO, await issuer.sign(github(), { expiresIn: -10 }))).toMatchObject({
      outcome: 'authenticated',
    });
  });

  test.each([
    ['no password', undefined],
    ['a plain password', 'hunter2'],
    ['two parts', 'abc.def'],
    ['three parts that are not JSON', 'abc.def.ghi'],
  ])('%s: no match', async (_name, password) => {
    expect(await login(REPO, password)).toEqual({ outcome: 'no_match' });
  });

  test('a token from an issuer not in the list: no match', async () => {
    expect(await login(REPO, await other.sign(github()))).toEqual({ outcome: 'no_match' });
  });

  test('a token claiming a trusted issuer but signed by another: denied', async () => {
    expect(await login(REPO, await other.sign(github({ iss: issuer.url })))).toMatchObject({
      outcome: 'denied',
    });
  });

  test('an unreachable issuer: BackendUnavailableError, without the token in the message', async () => {
    const gone = await startTestIssuer();
    const token = await gone.sign(github());
    await gone.stop();
    const fresh = new JwtAuthenticator(
      jwtAuthSchema.parse({
        issuers: [{ issuer: gone.url, audience: AUDIENCE, account_claim: 'repository' }],
      }),
    );
    const err = await fresh
      .authenticate({ account: REPO, password: new Secret(token) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(String((err as Error).message)).not.toContain(token);
  });

  test('an issuer whose discovery fails is asked again only after a pause, not per request', async () => {
    // Forged tokens naming the issuer are not slowed by the lockout (a signature is not guessed):
    // each one asked a failing issuer again.
    let asked = 0;
    const down = createServer((_req, res) => {
      asked++;
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    const fresh = new JwtAuthenticator(
      jwtAuthSchema.parse({ issuers: [{ issuer: url, audience: AUDIENCE, account_claim: 'repository' }] }),
    );
    const forged = new UnsecuredJWT({
      iss: url,
      aud: AUDIENCE,
      repository: REPO,
      exp: 2_000_000_000,
    }).encode();
    const now = vi.spyOn(Date, 'now');
    let t = Date.UTC(2026, 0, 1);
    now.mockImplementation(() => t);
    try {
      for (let i = 0; i < 10; i++) {
        const err = await fresh
          .authenticate({ account: REPO, password: new Secret(forged) })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BackendUnavailableError);
      }
      expect(asked).toBe(1);
      // After the pause the issuer is asked again.
      t += 6_000;
      await fresh.authenticate({ account: REPO, password: new Secret(forged) }).catch(() => undefined);
      expect(asked).toBe(2);
    } finally {
      now.mockRestore();
      down.closeAllConnections();
      down.close();
    }
  });

  test('the key set is cached across requests', async () => {
    const before = issuer.jwksFetches();
    await login(REPO, await issuer.sign(github()));
    await login(REPO, await issuer.sign(github()));
    expect(issuer.jwksFetches()).toBe(before);
  });
});

describe('jwt_auth config', () => {
  test.each([
    ['http:// on loopback', { issuer: 'http://127.0.0.1:8080', audience: 'a' }, true],
    ['http://localhost', { issuer: 'http://localhost:8080', audience: 'a' }, true],
    ['https', { issuer: 'https://token.actions.githubusercontent.com', audience: 'a' }, true],
    ['http:// elsewhere', { issuer: 'http://issuer.example.com', audience: 'a' }, false],
    [
      'http:// jwks_uri elsewhere',
      { issuer: 'https://a.example', jwks_uri: 'http://b.example/k', audience: 'a' },
      false,
    ],
    ['HS256 allowed', { issuer: 'https://a.example', audience: 'a', algorithms: ['HS256'] }, false],
    ['none allowed', { issuer: 'https://a.example', audience: 'a', algorithms: ['none'] }, false],
    ['no audience', { issuer: 'https://a.example' }, false],
    ['unknown key', { issuer: 'https://a.example', audience: 'a', audiences: ['a'] }, false],
  ])('%s', (_name, entry, ok) => {
    expect(jwtAuthSchema.safeParse({ issuers: [entry] }).success).toBe(ok);
  });

  test('label_claims as a mapping of label to claim', () => {
    const parsed = jwtAuthSchema.parse({
      issuers: [{ issuer: 'https://a.example', audience: 'a', label_claims: { repo: 'repository' } }],
    });
    expect(parsed.issuers[0]!.label_claims).toEqual({ repo: 'repository' });
    expect(parsed.leeway).toBe(30);
  });
});
