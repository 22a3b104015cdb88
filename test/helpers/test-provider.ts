import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

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
