/**
 * Found by a review (jwt_auth, label_claims): labelsFrom says "a missing or empty claim gives no label", and
 * docs/acl.md gives an absent label and an empty one different meanings (a rule on a label the
 * account lacks is skipped; an empty value matches `*` in `labels:` patterns, and in a placeholder
 * makes the rule decide and grant nothing). GitHub Actions sends `head_ref: ""` and
 * `base_ref: ""` on every non-pull-request job, so an empty claim is common: it must give no label,
 * as a missing one does.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { JwtAuthenticator, labelsFrom } from '../../src/authn/jwt/authenticator.js';
import { jwtAuthSchema } from '../../src/authn/jwt/config.js';
import { Secret } from '../../src/core/secret.js';
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js';

const AUDIENCE = 'registry.test';
let issuer: TestIssuer;
let authn: JwtAuthenticator;

beforeAll(async () => {
  issuer = await startTestIssuer();
  authn = new JwtAuthenticator(
    jwtAuthSchema.parse({
      issuers: [
        {
          issuer: issuer.url,
          audience: AUDIENCE,
          account_claim: 'repository',
          label_claims: ['repository', 'head_ref', 'environment'],
          required_claims: { repository_owner_id: ['1234567'] },
        },
      ],
    }),
  );
});
afterAll(() => issuer.stop());

test('labelsFrom: an empty claim gives no label, as its docstring says', () => {
  expect(
    labelsFrom({ head_ref: '', repository: 'acme/app' }, { head_ref: 'head_ref', repository: 'repository' }),
  ).toEqual({
    repository: ['acme/app'],
  });
});

test('a push job (GitHub: head_ref "") gets no head_ref label, as a job without the claim gets none', async () => {
  const token = await issuer.sign({
    aud: AUDIENCE,
    repository: 'acme/app',
    repository_owner_id: '1234567',
    head_ref: '',
  });
  const result = await authn.authenticate({ account: 'acme/app', password: new Secret(token) });
  expect(result).toMatchObject({ outcome: 'authenticated' });
  // The label the job gets must be the one a job without the claim gets: none.
  expect(result.outcome === 'authenticated' ? result.labels : undefined).toEqual({
    repository: ['acme/app'],
  });
});
