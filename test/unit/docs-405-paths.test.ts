/**
 * Found by a review of the docs against the code: which paths answer an unlisted method with 405
 * rather than 404.
 *
 * docs/http-api.md says: "A method a path does not answer gets 405 with an `Allow` header listing
 * the methods it does on the token paths and on `/v2/_catalog`; elsewhere it gets the same 404 as
 * an unknown path." But src/http/routes.ts gives `/oidc/callback` `refuse: 'docker'`, so
 * `POST /oidc/callback` (or PUT, DELETE…) is answered 405 `Allow: GET`, not 404 (only HEAD on the
 * callback is mentioned, in the endpoints table).
 *
 * docs/catalog.md says "Without a `catalog:` section it answers 404 at both" (`/v2/_catalog` and
 * the page), but `/v2/_catalog` keeps `refuse: 'registry'` without a catalog section: a POST or
 * DELETE there is answered 405 `Allow: GET, HEAD`, never 404.
 *
 * The code looks right to me (405 with Allow is the correct answer for a known path, and the doc
 * already concedes it for HEAD on the callback); the docs should name `/oidc/callback` among the
 * 405 paths and say that only GET/HEAD of `/v2/_catalog` are 404 without `catalog:`.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const tmp = tempDir();
let srv: TestServer;

beforeAll(async () => {
  // No oidc_auth and no catalog: as config.example.yml (the quick start) runs.
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      [
        'server: {addr: "127.0.0.1:0"}',
        `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}`,
        'users: {"": {}}',
        'acl: []',
        '',
      ].join('\n'),
  });
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

/** The sentence of docs/http-api.md that says where a method a path does not answer gets 405. */
function httpApi405Sentence(): string {
  const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  const m = /A method a path does not answer gets 405[^.]*\./.exec(doc);
  expect(m, 'docs/http-api.md no longer has the 405 sentence').not.toBeNull();
  return m![0];
}

test('http-api.md: a POST to /oidc/callback gets what the doc says (405 only on the paths it names)', async () => {
  const sentence = httpApi405Sentence();
  const docSays405 = sentence.includes('/oidc/callback');
  const res = await fetch(`${srv.url}/oidc/callback`, { method: 'POST' });
  await res.arrayBuffer();
  // The doc names only the token paths and /v2/_catalog, "elsewhere ... the same 404".
  expect({ path: '/oidc/callback', method: 'POST', status: res.status }).toEqual({
    path: '/oidc/callback',
    method: 'POST',
    status: docSays405 ? 405 : 404,
  });
});

test('catalog.md: without catalog:, /v2/_catalog answers what the doc says to a POST', async () => {
  const doc = readFileSync(new URL('../../docs/catalog.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  // "Without a `catalog:` section it answers 404 at both" — no method named, so any method.
  const unqualified404 = /Without a `catalog:` section it answers 404 at both/.test(doc);
  expect(doc).toMatch(/Without a `catalog:` section it answers/);
  const res = await fetch(`${srv.url}/v2/_catalog`, { method: 'POST' });
  await res.arrayBuffer();
  expect({ path: '/v2/_catalog', method: 'POST', status: res.status }).toEqual({
    path: '/v2/_catalog',
    method: 'POST',
    status: unqualified404 ? 404 : 405,
  });
});
