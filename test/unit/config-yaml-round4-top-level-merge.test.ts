/**
 * Found by a review of 8032816: STRUCT_KEYS names only `match` and `labels`, but yaml.v2 merges key by key
 * into every struct or map a merge already filled. A `<<:` in the top-level mapping fills
 * Config.Server (a struct), Config.Users (a map), *LDAPAuthConfig, ... and a `server:` / `users:`
 * written after it is merged into them in docker_auth (decode.go mappingStruct -> unmarshal ->
 * prepare reuses the value; mapping() keeps a made map). regauth (js-yaml) replaces them whole,
 * with no refusal: docker_auth serves TLS with both users; regauth serves plain HTTP with one.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { hash, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-review4-top-merge-');
let head = '';
let cert = '';
let key = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  cert = certPath;
  key = keyPath;
  head = `token:\n  issuer: x\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
});
afterAll(() => tmp.cleanup());

const outcome = (yaml: string, probe: (c: ReturnType<typeof loadConfigText>) => unknown): unknown => {
  try {
    return probe(loadConfigText(head + yaml, { file: join(tmp.dir, 'config.yml') }));
  } catch (err) {
    if (err instanceof ConfigErrors) return 'refused';
    throw err;
  }
};

test('server: written after a top-level <<: keeps the merged certificate and key, as docker_auth did', () => {
  const yaml =
    `<<:\n  server: {addr: ":5001", certificate: ${cert}, key: ${key}}\n` + `server:\n  addr: ":5002"\n`;
  // docker_auth: server = {addr: :5002, certificate, key} — TLS. regauth: {addr: :5002} — plain HTTP.
  expect([true, 'refused']).toContainEqual(outcome(yaml, (c) => c.server.tls !== undefined));
});

test('users: written after a top-level <<: keeps the merged users, as docker_auth did', () => {
  const yaml =
    `<<:\n  users:\n    admin: {password: "${hash('a')}"}\n` +
    `users:\n  alice: {password: "${hash('b')}"}\n`;
  expect([['admin', 'alice'], 'refused']).toContainEqual(outcome(yaml, (c) => [...c.users!.keys()].sort()));
});
