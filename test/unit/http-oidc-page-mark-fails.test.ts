import { expect, test } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type Store } from '../../src/store/types.js';
import { signInThrough, useOidcServer } from '../helpers/test-provider.js';

// Found by a review of 9f4f15c: when the store fails the second mark (`oidc-login-page`, e.g. a
// Redis timeout between the two SETs), the registry page's login still succeeds, as intended,
// but its callback asked again then says "This sign-in is finished: its app password was shown
// once, on the page it opened" and links to the app-password login. The kind is recorded only
// for page logins, so a missing page mark reads as "an app password's": the failure turns into
// exactly the false statement 9f4f15c set out to remove (no app password was ever shown; the
// note of stop 46: the text may not say one was). The commit's comment says the second mark
// "only words a page"; in fact its absence words the opposite. Why it matters: a store hiccup
// should degrade to a text true of both logins (the old generic one), not to a false one; e.g.
// mark each kind positively and fall back to the generic text when neither is marked.

const CALLBACK = 'https://auth.example/regauth/oidc/callback';

/** The memory store, except that it cannot answer a mark in `oidc-login-page`. */
function failingPageMark(): Store {
  const inner = new MemoryStore({ maxEntries: 1000 });
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'mark') {
        return (namespace: string, id: string, exp: number, now: number) =>
          namespace === 'oidc-login-page'
            ? Promise.reject(new StoreUnavailableError('mark: timed out'))
            : target.mark(namespace, id, exp, now);
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const t = useOidcServer({
  callback: CALLBACK,
  server: { store: failingPageMark() },
  config: ({ keyPath, certPath, secretFile }) => `server: {addr: "127.0.0.1:0", path_prefix: /regauth}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.example]}
oidc_auth:
  issuer: ${t.provider.url}
  client_id: ${t.provider.clientId}
  client_secret: ${t.provider.clientSecret}
  user_claim: sub
  redirect_url: ${CALLBACK}
  registry_url: registry.example
  secret_file: ${secretFile}
catalog: {registry_url: "http://127.0.0.1:9", realm: "https://registry.example/auth", timeout: 1}
acl: []
`,
});

test("a registry page's finished login, its page mark lost to the store: never 'its app password was shown'", async () => {
  const first = await signInThrough(t.provider, t.url, CALLBACK, '/regauth/ui/', 'alice');
  // The login itself succeeds (the second mark's failure does not fail it, by design).
  expect(first.status, await first.clone().text()).toBe(303);
  const again = await fetch(first.url, { redirect: 'manual' });
  expect(again.status).toBe(400);
  const page = await again.text();
  expect(page).not.toContain('app password was shown');
});
