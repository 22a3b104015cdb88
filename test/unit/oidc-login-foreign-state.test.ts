import { expect, test } from 'vitest';
import {
  signInAtProvider as helperSignIn,
  startLogin as helperStartLogin,
  useOidcServer,
} from '../helpers/test-provider.js';

/**
 * Found by a review of the OIDC login. docs/backends/oidc.md "The callback URL is a bearer secret": someone starts a login in their
 * own browser and sends the provider's sign-in link to a victim; the victim, signing in, lands on
 * the callback, and regauth "exchanges nothing and says plainly, on the page: This sign-in was not
 * started in this browser … report it to your registry administrator", because the code in that
 * URL is still worth an app password to whoever replays it with the login cookie.
 *
 * That warning came only when the victim's browser held no login cookie at all. A browser that
 * holds a login cookie of its own (a login of its own started in the last 10 minutes, or one the
 * attacker's page started with a top-level navigation to /oidc/login or /ui/, which sets it) got
 * the neutral "the login could not be completed; start again at /oidc/login" for the very same
 * foreign callback: no warning, while the code stays unused and replayable. Whether a callback's
 * state is this browser's is known from the cookie before anything is exchanged.
 */
const callback = 'https://auth.example/oidc/callback';
const t = useOidcServer({
  callback,
  config: ({ keyPath, certPath, secretFile }) => `server:
  addr: "127.0.0.1:0"
token:
  issuer: t
  key: ${keyPath}
  certificate: ${certPath}
oidc_auth:
  issuer: ${t.provider.url}
  client_id: ${t.provider.clientId}
  client_secret: ${t.provider.clientSecret}
  redirect_url: ${callback}
  registry_url: registry.example
  secret_file: ${secretFile}
`,
});

const startLogin = () => helperStartLogin(t.url);
const signInAtProvider = (link: string, login: string) => helperSignIn(t.provider, link, callback, login);

test('a victim whose browser holds a login cookie of its own is warned of a link someone else started', async () => {
  // The attacker's login: the cookie stays in the attacker's browser, the link goes to the victim.
  const attacker = await startLogin();
  // The victim's browser holds a login cookie of its own (its own login, or one the attacker's
  // page started with a top-level navigation to /oidc/login).
  const victim = await startLogin();
  // The victim signs in through the attacker's link and lands on the callback.
  const query = await signInAtProvider(attacker.signInLink, 'alice');
  const res = await fetch(`${t.url}/oidc/callback?${query}`, { headers: { cookie: victim.cookie } });
  const body = await res.text();
  expect(res.status).toBe(400);
  expect(body).not.toContain('id="app-password"');
  // What a victim without any login cookie is told (test/unit/http-oidc.test.ts): the same link,
  // the same danger, the same warning.
  expect(body).toContain('This sign-in was not started in this browser.');
  expect(body).toContain('report it to your registry administrator');

  // Why the warning matters: the code in that URL was not spent, and the attacker's cookie still
  // turns it into an app password in the victim's name (documented; not what this test asserts).
  const replay = await fetch(`${t.url}/oidc/callback?${query}`, { headers: { cookie: attacker.cookie } });
  expect(replay.status).toBe(200);
  expect(await replay.text()).toContain('alice@example.test');
});
