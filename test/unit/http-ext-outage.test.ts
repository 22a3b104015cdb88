import bcrypt from 'bcryptjs';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * docs/security.md "User enumeration": a failed login does not tell whether the account exists,
 * by its answer either. Found by a review: with ext_auth after a static user, while the command
 * could not answer (its own database down: exit 3, a crash, a timeout), a made-up name got 503
 * (the command's failure) and a static user's wrong password 401 (the command only ran as its
 * decoy, whose failure was dropped): the status alone told who is a static (break-glass) user.
 */
const tmp = tempDir('regauth-ext-outage-');
let script: string;
beforeAll(() => {
  script = join(tmp.dir, 'broken-auth.sh');
  // The program's backing store is down: it cannot answer anyone.
  writeFileSync(script, '#!/bin/sh\ncat >/dev/null\necho "db unreachable" >&2\nexit 3\n');
  chmodSync(script, 0o755);
});
afterAll(() => tmp.cleanup());

/** A server with a static user before the failing command, and the lockout as `lockout:` says. */
async function outage(lockout: string): Promise<TestServer> {
  let runtime: Runtime | undefined;
  return startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  breakglass: {password: "${bcrypt.hashSync(randomPassword(), 4)}"}
ext_auth: {command: ${script}, max_concurrency: 8, max_per_client: 8}
login_queue: {per_client: 8}
credential_cache: {ttl: 0}
lockout: ${lockout}
acl: [{match: {}, actions: [pull]}]
`,
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime!.loginQueue }),
      lockout: new Lockout({ maxEntries: 1000, policy: () => runtime!.config.lockout }),
    },
  });
}

const login = async (s: TestServer, account: string) =>
  (
    await fetch(`${s.url}/auth?service=registry`, {
      headers: { authorization: basic(account, 'a-wrong-password') },
    })
  ).status;

describe('while ext_auth cannot answer', () => {
  test('a static user and a made-up name get the same status', async () => {
    const s = await outage('{enabled: false}');
    try {
      expect([await login(s, 'breakglass'), await login(s, 'nobody-at-all')]).toEqual([503, 503]);
      // The audit line still says what happened, for the operator.
      expect(s.logs.join('\n')).toMatch(/answered so for a password users refused/);
    } finally {
      await s.server.close(100);
    }
  });

  test('the refused password is still counted by the lockout; the outage itself is not', async () => {
    const s = await outage('{max_failures: 3, backoff: 60}');
    try {
      const statuses = async (account: string) => {
        const out: number[] = [];
        for (let i = 0; i < 5; i++) out.push(await login(s, account));
        return out;
      };
      expect(await statuses('breakglass')).toEqual([503, 503, 503, 429, 429]);
      // An outage may be anyone's, a right password's too, and others can cause it: it locks
      // nobody out. Here the lock tells a static user apart after max_failures tries from one
      // address (docs/security.md "User enumeration", not covered).
      expect(await statuses('nobody-at-all')).toEqual([503, 503, 503, 503, 503]);
    } finally {
      await s.server.close(100);
    }
  });
});
