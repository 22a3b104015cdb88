import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bcryptPoolVerifier } from '../../src/authn/bcrypt-pool.js';
import type { PasswordVerifier } from '../../src/authn/password.js';
import { hash, randomPassword } from '../helpers/fixtures.js';
import { buildOciImage } from './harness/oci.js';
import { inspect, push } from './harness/skopeo.js';
import { startStack, type Stack } from './harness/stack.js';

/** The real pool verifier, counting the comparisons it is asked for. */
function countingVerifier(): PasswordVerifier & { comparisons: number; close(): Promise<void> } {
  const pool = bcryptPoolVerifier(4);
  const counting = {
    comparisons: 0,
    verify: (password: Parameters<PasswordVerifier['verify']>[0], stored: string) => {
      counting.comparisons += 1;
      return pool.verify(password, stored);
    },
    burn: pool.burn,
    close: pool.close,
  };
  return counting;
}

describe('credential cache and bcrypt pool against docker-registry and skopeo', () => {
  const password = randomPassword();
  const verifier = countingVerifier();
  let s: Stack;

  const cacheConfig = (alicePassword: string) => `users:
  alice:
    password: "${hash(alicePassword)}"
acl:
  - match: {account: "/.+/", name: "\${account}/**"}
    actions: ["*"]
credential_cache:
  ttl: 5m
  max_entries: 100
`;

  beforeAll(async () => {
    s = await startStack({
      name: 'cache',
      config: cacheConfig(password),
      serviceOptions: { runtimeDeps: { verifier } },
    });
  });
  afterAll(async () => {
    await s?.stop();
    await verifier.close();
  });

  test('a push and a pull with the same credentials cost one bcrypt comparison', async () => {
    const image = await buildOciImage(join(s.tmp.dir, 'img'), 'v1');
    const pushed = await push(image.ref, s.registry.host, 'alice/app', 'v1', { user: 'alice', password });
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const seen = await inspect(s.registry.host, 'alice/app', 'v1', { user: 'alice', password });
    expect(seen.code).toBe(0);
    expect(seen.digest).toBe(image.digest);
    expect(verifier.comparisons).toBe(1);
  });

  test('a wrong password is still refused after a cached success', async () => {
    const seen = await inspect(s.registry.host, 'alice/app', 'v1', {
      user: 'alice',
      password: `${password}x`,
    });
    expect(seen.code).not.toBe(0);
  });

  test('after a reload that changes the password, the old one no longer works', async () => {
    const next = randomPassword();
    s.writeConfig({ config: cacheConfig(next) });
    await s.regauth.reload();
    const old = await inspect(s.registry.host, 'alice/app', 'v1', { user: 'alice', password });
    expect(old.code).not.toBe(0);
    const seen = await inspect(s.registry.host, 'alice/app', 'v1', { user: 'alice', password: next });
    expect(seen.code).toBe(0);
  });
});
