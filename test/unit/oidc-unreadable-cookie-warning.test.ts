import { expect, test } from 'vitest';
import { OidcLogin } from '../../src/oidc/login.js';
import { oidcLoginConfig } from '../helpers/oidc-login.js';
import {
  signInAtProvider as helperSignIn,
  startLogin as helperStartLogin,
  useOidcServer,
} from '../helpers/test-provider.js';

/**
 * Found by a review of the login callback. docs/backends/oidc.md "The callback URL is a bearer secret": a victim who signs in through a
 * provider link someone else started lands on the callback "in a browser without that cookie
 * (with none, or with the cookie of another login …). regauth then exchanges nothing and says
 * plainly, on the page: This sign-in was not started in this browser … report it to your registry
 * administrator", because the code in the URL stays worth an app password to whoever holds the
 * login cookie. Commit 79d1940 made this hold "whatever login cookie is held".
 *
 * It still does not hold for a login cookie regauth cannot open: one sealed under another
 * `secret_file` (a login started before the secret was replaced, or a cookie another https
 * service on the same host name planted, which the docs say any port of the host can do), or a
 * damaged one. Such a cookie cannot be this callback's either, but the victim gets the neutral
 * "the login expired or was tampered with; sign in again": no warning, no "report it", while the
 * code stays unspent and the attacker's cookie still turns it into an app password in the
 * victim's name.
 */
const callback = 'https://auth.example/oidc/callback';
const t = useOidcServer({
  callback,
  config: ({ keyPath, certPath, secretFile }) => `server:
  addr: "127.0.0.1:0"
  trusted_proxies: [127.0.0.1]
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

test.each([
  [
    'sealed under another secret_file',
    async () => {
      // A login cookie of the same shape and name, sealed with a key regauth does not hold now.
      const other = new OidcLogin(oidcLoginConfig(t.provider.url));
      const { cookie } = await other.start(Math.floor(Date.now() / 1000));
      return `__Host-regauth_oidc=${cookie}`;
    },
  ],
  ['damaged', async () => '__Host-regauth_oidc=x.y.z'],
])(
  'a victim whose browser holds a login cookie regauth cannot open (%s) is warned of a link someone else started',
  async (_what, victimCookie) => {
    const attacker = await startLogin();
    const query = await signInAtProvider(attacker.signInLink, 'alice');
    const res = await fetch(`${t.url}/oidc/callback?${query}`, { headers: { cookie: await victimCookie() } });
    const body = await res.text();
    expect(res.status).toBe(400);
    expect(body).not.toContain('id="app-password"');
    // The warning a victim with no cookie, or with a cookie of its own, gets for the same link.
    expect(body).toContain('This sign-in was not started in this browser.');
    expect(body).toContain('report it to your registry administrator');

    // The stakes: the code in the URL was not spent; the attacker's cookie turns it into alice's
    // app password.
    const replay = await fetch(`${t.url}/oidc/callback?${query}`, { headers: { cookie: attacker.cookie } });
    expect(replay.status).toBe(200);
    expect(await replay.text()).toContain('alice@example.test');
  },
);

// Found by the same review: the page asks the victim to report such a link, but the callback's
// log lines named no client, so the administrator could not tell who replayed the code.
test("the callback's log lines name the client, the refused victim's and the replaying attacker's", async () => {
  const attacker = await startLogin();
  const query = await signInAtProvider(attacker.signInLink, 'alice');
  const victim = await fetch(`${t.url}/oidc/callback?${query}`, {
    headers: { 'x-forwarded-for': '203.0.113.5' },
  });
  expect(victim.status).toBe(400);
  await victim.text();
  const replay = await fetch(`${t.url}/oidc/callback?${query}`, {
    headers: { cookie: attacker.cookie, 'x-forwarded-for': '198.51.100.7' },
  });
  expect(replay.status).toBe(200);
  await replay.text();
  const lines = t.logs.map((l) => JSON.parse(l) as { msg: string; client?: { ip: string } });
  expect(lines.filter((l) => l.msg === 'oidc callback failed').at(-1)?.client?.ip).toBe('203.0.113.5');
  expect(lines.filter((l) => l.msg === 'app password issued').at(-1)?.client?.ip).toBe('198.51.100.7');
});
