/**
 * The CI examples let in the jobs of named owners. An owner's name can be registered by anyone
 * once the organisation (GitHub) or group (GitLab) that had it is renamed or deleted, and the
 * new owner's jobs then carry the same name: the examples name owners by ID, which is never
 * given to another. Each example's jwt_auth issuer is run as written, against a test issuer.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JwtAuthenticator } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { Secret } from '../../src/core/secret.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

const ROOT = resolve(import.meta.dirname, '../..');
let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await startTestIssuer();
});
afterAll(async () => {
  await issuer.stop();
});

/** The example's first jwt_auth issuer as written, at the test issuer's URL. */
function exampleIssuer(file: string): { authn: JwtAuthenticator; audience: string } {
  const config = yaml.load(readFileSync(resolve(ROOT, 'examples', file), 'utf8')) as {
    jwt_auth: { issuers: Record<string, unknown>[] };
  };
  const written = config.jwt_auth.issuers[0]!;
  const authn = new JwtAuthenticator(
    jwtAuthSchema.parse({ ...config.jwt_auth, issuers: [{ ...written, issuer: issuer.url }] }),
  );
  return { authn, audience: String(written['audience']) };
}

describe('the CI examples name owners by ID', () => {
  test('GitHub Actions: a job of a new organisation that took the name acme is refused', async () => {
    const { authn, audience } = exampleIssuer('ci-github-actions.yml');
    const job = (ownerId: string) =>
      issuer.sign({
        aud: audience,
        repository: 'acme/app',
        repository_owner: 'acme',
        repository_owner_id: ownerId,
        ref: 'refs/heads/main',
        event_name: 'push',
      });
    const login = async (token: string) =>
      (await authn.authenticate({ account: 'acme/app', password: new Secret(token) })).outcome;
    expect(await login(await job('1234567'))).toBe('authenticated');
    expect(await login(await job('99999999'))).toBe('denied');
  });

  test('GitLab: a job of a new group that took the path acme is refused', async () => {
    const { authn, audience } = exampleIssuer('ci-gitlab.yml');
    const job = (namespaceId: string) =>
      issuer.sign({
        aud: audience,
        project_path: 'acme/app',
        namespace_path: 'acme',
        namespace_id: namespaceId,
        ref: 'main',
        ref_protected: 'true',
      });
    const login = async (token: string) =>
      (await authn.authenticate({ account: 'acme/app', password: new Secret(token) })).outcome;
    expect(await login(await job('1234'))).toBe('authenticated');
    expect(await login(await job('99999999'))).toBe('denied');
  });
});
