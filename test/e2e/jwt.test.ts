import { join } from 'node:path';
import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';
import { buildOciImage } from './harness/oci.js';
import { push } from './harness/skopeo.js';
import { SERVICE, startStack, type Stack } from './harness/stack.js';

/**
 * jwt_auth end to end: a CI issuer on loopback signs ID tokens; skopeo pushes with them to the
 * real docker-registry through regauth, which maps the token's claims to labels for the ACL.
 */
describe('jwt_auth: CI ID tokens as the password', () => {
  let issuer: TestIssuer;
  let offline: TestIssuer;
  let s: Stack;

  const claims = (repository: string, extra: Record<string, unknown> = {}) => ({
    aud: SERVICE,
    sub: `repo:${repository}:ref:refs/heads/main`,
    repository,
    repository_owner: repository.split('/')[0],
    ref: 'refs/heads/main',
    ...extra,
  });

  beforeAll(async () => {
    issuer = await startTestIssuer();
    offline = await startTestIssuer();
    // The second issuer goes away before regauth ever reaches it.
    await offline.stop();
    s = await startStack({
      name: 'jwt',
      config: `# This suite fails logins on purpose, many times; lockout has its own tests (ops).
lockout:
  enabled: false
jwt_auth:
  issuers:
    - issuer: ${issuer.url}
      audience: ${SERVICE}
      account_claim: repository
      label_claims: [repository, repository_owner, ref]
    - issuer: ${offline.url}
      audience: ${SERVICE}
      account_claim: repository
acl:
  - match: {name: "\${labels:repository}/*"}
    actions: [pull, push]
    comment: a CI job pushes under its repository
`,
    });
  });

  afterAll(async () => {
    await s?.stop();
    await issuer?.stop();
  });

  test('a good token pushes under its repository, and nowhere else', async () => {
    const token = await issuer.sign(claims('acme/app'));
    const image = await buildOciImage(join(s.tmp.dir, 'img-ok'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'acme/app/web', 'v1', {
      user: 'acme/app',
      password: token,
    });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const elsewhere = await push(image.ref, s.registry.host, 'other/app/web', 'v1', {
      user: 'acme/app',
      password: token,
    });
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/denied|unauthorized|authentication required/i);
  });

  const fetchToken = (user: string, password: string) =>
    fetch(`${s.regauth.url}/auth?service=${SERVICE}&scope=repository:acme/app/web:push,pull`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    });

  test.each([
    ['expired', () => issuer.sign(claims('acme/app'), { expiresIn: -600 })],
    ['wrong audience', () => issuer.sign(claims('acme/app', { aud: 'another.registry' }))],
    ['wrong issuer', () => issuer.sign(claims('acme/app', { iss: 'https://elsewhere.example' }))],
    ['alg none', async () => issuer.unsigned(claims('acme/app'))],
    ['unknown kid', () => issuer.sign(claims('acme/app'), { kid: 'rotated-away' })],
    [
      'signed by another key',
      async () => issuer.sign(claims('acme/app'), { key: (await generateKeyPair('ES256')).privateKey }),
    ],
  ])('%s: 401, and skopeo cannot push', async (_name, makeToken) => {
    const token = await makeToken();
    const res = await fetchToken('acme/app', token);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: expect.any(String) }] });
    const image = await buildOciImage(join(s.tmp.dir, `img-${_name.replace(/\W/g, '')}`), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'acme/app/web', 'bad', {
      user: 'acme/app',
      password: token,
    });
    expect(pushed.code).not.toBe(0);
  });

  test('the issuer unreachable: 503', async () => {
    const token = await offline.sign(claims('acme/app'));
    const res = await fetchToken('acme/app', token);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
  });

  test('no token appears in the logs', async () => {
    const token = await issuer.sign(claims('acme/app', { aud: 'another.registry' }));
    await fetchToken('acme/app', token);
    expect(s.logs.join('')).not.toContain(token.split('.')[2]);
  });
});
