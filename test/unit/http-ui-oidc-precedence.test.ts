import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { UiSessions } from '../../src/oidc/session.js';
import { basic } from '../helpers/fixtures.js';
import { useOidcServer } from '../helpers/test-provider.js';

/**
 * A registry page session speaks for its account only where an app password of the same login
 * would: a backend before oidc_auth that holds the account decides it. Found by an adversarial
 * review: ext_auth, which cannot look an account up without a password, was passed over, so a
 * session for an account ext_auth holds got its pull tokens.
 */
const REDIRECT = 'https://auth.example/regauth/oidc/callback';
const t = useOidcServer({
  callback: REDIRECT,
  config: ({ keyPath, certPath, secretFile }) => `server:
  addr: "127.0.0.1:0"
  path_prefix: /regauth
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
  services: [registry.example]
ext_auth:
  command: ${script}
oidc_auth:
  issuer: ${t.provider.url}
  client_id: ${t.provider.clientId}
  client_secret: ${t.provider.clientSecret}
  redirect_url: ${REDIRECT}
  registry_url: registry.example
  secret_file: ${secretFile}
catalog:
  registry_url: http://127.0.0.1:9
  realm: https://registry.example/auth
  timeout: 1
acl:
  - match: {account: dave, name: "dave/*"}
    actions: [pull]
`,
});
const sessions = new UiSessions(new Secret(t.secret));
// An ext_auth command that holds the account "dave" (password "hunter2"), and no other.
const script = join(t.dir, 'ext-auth.sh');
writeFileSync(
  script,
  '#!/bin/sh\nread -r a p\nif [ "$a" = dave ]; then [ "$p" = hunter2 ] && exit 0; exit 1; fi\nexit 2\n',
);
chmodSync(script, 0o755);

describe('backend precedence: a session must not speak for an account an earlier backend holds', () => {
  test('ext_auth (no lookup) holds dave: an app password for dave is refused, and so must a session be', async () => {
    // The chain: ext_auth answers for dave first, so an oidc_auth app password never applies.
    const now = Math.floor(Date.now() / 1000);
    const { issueAppPassword } = await import('../../src/oidc/app-password.js');
    const app = await issueAppPassword(t.runtime.config.oidc_auth!, 'dave', {}, now);
    const token = await fetch(
      `${t.url}/regauth/auth?service=registry.example&scope=repository:dave/app:pull`,
      {
        headers: { authorization: basic('dave', app.password.reveal()) },
      },
    );
    expect(token.status).toBe(401);
    // The same login's registry page session: docs/catalog.md and docs/security.md say it is
    // refused "as soon as an app password of the same login would be" (401, cookie cleared).
    const { cookie } = await sessions.seal('dave', {}, now, 3600);
    const page = await fetch(`${t.url}/regauth/ui/repository?name=dave/app`, {
      headers: { cookie: `__Host-regauth_ui=${cookie}` },
      redirect: 'manual',
    });
    // It was 503: a pull token for dave/app was issued; only the registry being down stopped it.
    expect(page.status).toBe(401);
  });
});
