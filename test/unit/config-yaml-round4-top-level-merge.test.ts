/**
 * Found by a review of 8032816: STRUCT_KEYS names only `match` and `labels`, but yaml.v2 merges key by key
 * into every struct or map a merge already filled. A `<<:` in the top-level mapping fills
 * Config.Server (a struct), Config.Users (a map), *LDAPAuthConfig, ... and a `server:` / `users:`
 * written after it is merged into them in docker_auth (decode.go mappingStruct -> unmarshal ->
 * prepare reuses the value; mapping() keeps a made map). regauth (js-yaml) replaces them whole,
 * with no refusal: docker_auth serves TLS with both users; regauth serves plain HTTP with one.
 */
import { expect, test } from 'vitest';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review4-top-merge-');

test('server: written after a top-level <<: keeps the merged certificate and key, as docker_auth did', () => {
  const yaml =
    `<<:\n  server: {addr: ":5001", certificate: ${configs.certPath}, key: ${configs.keyPath}}\n` +
    `server:\n  addr: ":5002"\n`;
  // docker_auth: server = {addr: :5002, certificate, key} — TLS. regauth: {addr: :5002} — plain HTTP.
  expect([true, 'refused']).toContainEqual(configs.outcome(yaml, (c) => c.server.tls !== undefined));
});

test('users: written after a top-level <<: keeps the merged users, as docker_auth did', () => {
  const yaml =
    `<<:\n  users:\n    admin: {password: "${hash('a')}"}\n` +
    `users:\n  alice: {password: "${hash('b')}"}\n`;
  expect([['admin', 'alice'], 'refused']).toContainEqual(
    configs.outcome(yaml, (c) => [...c.users!.keys()].sort()),
  );
});
