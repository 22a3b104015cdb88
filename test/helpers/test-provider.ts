import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { afterAll, beforeAll } from 'vitest';
import { tempDir } from './fixtures.js';
import { startTestServer, type TestServer } from './server.js';

/** An OpenID Connect provider (oidc-provider) on 127.0.0.1, with one client and dev login pages. */
export interface TestProvider {
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  stop(): Promise<void>;
}

/** Account claims by login name: any password logs in (devInteractions). */
const ACCOUNTS: Record<string, Record<string, unknown>> = {
  alice: { preferred_username: 'alice', email: 'alice@example.test', email_verified: true, groups: ['devs'] },
  mallory: { preferred_username: 'mal<b>"lory', email: 'mallory@example.test', groups: [] },
  // Typed alice's address into her profile; the provider never verified it.
  eve: { preferred_username: 'eve', email: 'alice@example.test', email_verified: false, groups: ['devs'] },
  // In 300 groups of 40 characters: more labels than an app password or a cookie can carry.
  bigco: {
    preferred_username: 'bigco',
    email: 'bigco@example.test',
    email_verified: true,
    groups: Array.from(
      { length: 300 },
      (_, i) => `cn=group-${String(i).padStart(3, '0')},ou=groups,dc=example`,
    ),
  },
};

/** Starts the provider; `redirectUri` is regauth's callback. */
export async function startTestProvider(redirectUri: string): Promise<TestProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'regauth-test';
  const clientSecret = randomBytes(24).toString('base64url');
  const provider = new Provider(url, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    pkce: { required: () => true, methods: ['S256'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    async findAccount(_ctx, id) {
      const claims = ACCOUNTS[id] ?? { preferred_username: id };
      return { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
  });
  // The dev login pages warn on every request that they are not for production; tests know.
  provider.on('server_error', () => {});
  const handle = provider.callback();
  server.on('request', (req, res) => void handle(req, res));
  return {
    url,
    clientId,
    clientSecret,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The cookies a client keeps, by name: enough for regauth's login cookie and the provider's pages. */
class CookieJar {
  readonly #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const eq = pair.indexOf('=');
      this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Signs in through regauth as a browser would, without one: starts at `start` (`/oidc/login`, or
 * a registry page), logs in at the provider's dev pages as `login` (any password), consents, and
 * returns regauth's answer to the callback. `callback` is the redirect URL regauth was given; the
 * callback is asked of `regauthUrl` whatever host that URL names.
 */
export async function signInThrough(
  provider: TestProvider,
  regauthUrl: string,
  callback: string,
  start: string,
  login: string,
): Promise<Response> {
  const regauth = new CookieJar();
  const res = await fetch(`${regauthUrl}${start}`, { redirect: 'manual' });
  regauth.take(res);
  const query = await signInAtProvider(provider, res.headers.get('location') ?? '', callback, login);
  return fetch(`${regauthUrl}${new URL(callback).pathname}?${query}`, {
    redirect: 'manual',
    headers: { cookie: regauth.header() },
  });
}

/**
 * `/oidc/login` of `regauthUrl` as a browser would ask it: the login cookie it sets (name=value)
 * and the provider's sign-in link it sends the browser to.
 */
export async function startLogin(regauthUrl: string): Promise<{ cookie: string; signInLink: string }> {
  const res = await fetch(`${regauthUrl}/oidc/login`, { redirect: 'manual' });
  return {
    cookie: res.headers.getSetCookie()[0]!.split(';')[0]!,
    signInLink: res.headers.get('location')!,
  };
}

/**
 * Follows a provider's sign-in `link` as a browser of its own would (a victim's, sent someone
 * else's link): logs in at the provider's dev pages as `login` (any password), consents, and
 * returns the query of the callback URL (`callback`) the provider sends the browser back to.
 */
export async function signInAtProvider(
  provider: TestProvider,
  link: string,
  callback: string,
  login: string,
): Promise<string> {
  const idp = new CookieJar();
  let location = link;
  for (let i = 0; i < 12; i++) {
    if (location.startsWith(callback)) return location.slice(location.indexOf('?') + 1);
    let res = await fetch(new URL(location, provider.url).href, {
      redirect: 'manual',
      headers: { cookie: idp.header() },
    });
    idp.take(res);
    if (res.status === 200) {
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (action === undefined) throw new Error(`no form on the provider's page ${location}`);
      const body = html.includes('name="login"')
        ? new URLSearchParams({ prompt: 'login', login, password: 'x' })
        : new URLSearchParams({ prompt: 'consent' });
      res = await fetch(new URL(action, provider.url).href, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: idp.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      idp.take(res);
    }
    location = res.headers.get('location') ?? '';
  }
  throw new Error('the provider never sent the browser back to the callback');
}

/** What useOidcServer hands a test file: the server (once started), and what it was set up with. */
export interface OidcTestServer extends TestServer {
  /** The test provider (with `callback` only, once the file's beforeAll has run). */
  readonly provider: TestProvider;
  /** The file's temporary directory. */
  readonly dir: string;
  /** oidc_auth's secret (base64), as written to `secretFile`. */
  readonly secret: string;
  readonly secretFile: string;
}

/**
 * Sets up regauth with oidc_auth for one test file: a temporary directory holding a fresh
 * oidc_auth secret file; with `callback`, a test provider whose client returns there (started
 * first, as `provider`); then startTestServer with `config` (given the token key and the secret
 * file) and `server`. After the file's tests: the server closed, the provider stopped, the
 * directory removed.
 */
export function useOidcServer(options: {
  readonly callback?: string;
  readonly config: (files: { keyPath: string; certPath: string; secretFile: string }) => string;
  readonly server?: Parameters<typeof startTestServer>[0]['server'];
}): OidcTestServer {
  const tmp = tempDir();
  const secret = randomBytes(48).toString('base64');
  const secretFile = join(tmp.dir, 'oidc.secret');
  writeFileSync(secretFile, secret);
  let provider: TestProvider | undefined;
  let started: TestServer | undefined;
  const running = (): TestServer => {
    if (!started) throw new Error('useOidcServer: the server is not started yet (used before beforeAll?)');
    return started;
  };

  beforeAll(async () => {
    if (options.callback !== undefined) provider = await startTestProvider(options.callback);
    started = await startTestServer({
      dir: tmp.dir,
      config: (keys) => options.config({ ...keys, secretFile }),
      ...(options.server ? { server: options.server } : {}),
    });
  });
  afterAll(async () => {
    await started?.server.close(100);
    await provider?.stop();
    tmp.cleanup();
  });

  return {
    get server() {
      return running().server;
    },
    get url() {
      return running().url;
    },
    get runtime() {
      return running().runtime;
    },
    get logs() {
      return running().logs;
    },
    get provider() {
      if (!provider) throw new Error('useOidcServer: no provider (none asked for, or used before beforeAll)');
      return provider;
    },
    dir: tmp.dir,
    secret,
    secretFile,
  };
}
