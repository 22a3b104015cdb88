import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadOidcAuth, oidcAuthSchema, type OidcAuthConfig } from '../../src/oidc/config.js';
import type { OidcLogin } from '../../src/oidc/login.js';

/**
 * oidc_auth's settings, loaded as regauth loads them, for an OidcLogin against a provider at
 * `issuer`: client `c` with secret `s`, a fresh login-cookie secret, and `extra` keys on top
 * (`timeout`, `user_claim`...).
 */
export function oidcLoginConfig(issuer: string, extra: Record<string, unknown> = {}): OidcAuthConfig {
  return loadOidcAuth(
    oidcAuthSchema.parse({
      issuer,
      client_id: 'c',
      client_secret: 's',
      redirect_url: 'https://auth.example/oidc/callback',
      registry_url: 'r',
      secret_file: 'f',
      ...extra,
    }),
    (x) => x,
    () => randomBytes(48).toString('base64'),
  );
}

/** A stand-in provider's answer to one request; `base` is its URL. */
export type ProviderAnswer = (
  req: IncomingMessage,
  res: ServerResponse,
  base: string,
) => void | Promise<void>;

/**
 * Sets up a stand-in OpenID provider on 127.0.0.1 and a free port: its discovery document names
 * /auth, /token and /jwks (and /userinfo with `userinfo`); `answer` answers every other request,
 * the discovery document's too with `discovery: false`.
 */
export async function fakeOidcProvider(
  answer: ProviderAnswer,
  options: { readonly userinfo?: boolean; readonly discovery?: boolean } = {},
): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/.well-known/openid-configuration' && options.discovery !== false) {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: base,
          authorization_endpoint: `${base}/auth`,
          token_endpoint: `${base}/token`,
          ...(options.userinfo ? { userinfo_endpoint: `${base}/userinfo` } : {}),
          jwks_uri: `${base}/jwks`,
          response_types_supported: ['code'],
        }),
      );
    } else void answer(req, res, base);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A token endpoint's JSON answer with an ID token of `claims`, unsigned: over the back channel
 * openid-client checks the ID token's claims, not its signature.
 */
export function idTokenAnswer(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const idToken = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;
  return JSON.stringify({ access_token: 'at', token_type: 'Bearer', id_token: idToken });
}

/**
 * A login started as a browser would, and its callback sent with `code` (the client's to choose;
 * default `abc`) and the login's state: what OidcLogin.finish returns, or the error it throws.
 * `onStart` sees the authorization URL first (a stand-in's ID token wants its nonce).
 */
export async function finishLogin(
  login: OidcLogin,
  options: {
    readonly code?: string;
    readonly now?: number;
    readonly onStart?: (authorizationUrl: URL) => void;
    /** The registry page's sign-in (the page to return to) instead of an app password's. */
    readonly returnTo?: string;
  } = {},
): Promise<unknown> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const { authorizationUrl, cookie } = await login.start(now, options.returnTo);
  options.onStart?.(authorizationUrl);
  const state = authorizationUrl.searchParams.get('state')!;
  const query = new URLSearchParams({ code: options.code ?? 'abc', state }).toString();
  return login.finish(query, cookie, now, { claim: () => true }).catch((e: unknown) => e);
}
