import bcrypt from 'bcryptjs';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * The lockout counts refused passwords, never outages. Found by a review of a change that counted
 * every BackendUnavailableError of a password login: the run it guards is the whole token
 * pipeline, authorization included, so a user whose password was checked and right, but whose
 * scope `ext_authz` could not answer (its command down, busy, or killed at a reload), was counted
 * as a password failure, and once ext_authz was back the right password got 429.
 */
const tmp = tempDir('regauth-authz-outage-lock-');
let script: string;
let flag: string;
beforeAll(() => {
  flag = join(tmp.dir, 'authz-down');
  script = join(tmp.dir, 'authz.sh');
  // Down (exit 3) while the flag file exists; otherwise grants (exit 0).
  writeFileSync(script, `#!/bin/sh\ncat >/dev/null\nif [ -e ${flag} ]; then exit 3; fi\nexit 0\n`);
  chmodSync(script, 0o755);
});
afterAll(() => tmp.cleanup());

test('an ext_authz outage does not lock out a user whose password is right', async () => {
  let runtime: Runtime | undefined;
  const s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${bcrypt.hashSync('right-password', 4)}"}
ext_authz: {command: ${script}}
credential_cache: {ttl: 0}
lockout: {max_failures: 3, backoff: 60}
acl: []
`,
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime!.loginQueue }),
      lockout: new Lockout({ maxEntries: 1000, policy: () => runtime!.config.lockout }),
    },
  });
  const login = async () =>
    (
      await fetch(`${s.url}/auth?service=registry&scope=repository:team/app:pull`, {
        headers: { authorization: basic('alice', 'right-password') },
      })
    ).status;
  try {
    writeFileSync(flag, '');
    const during = [await login(), await login(), await login()];
    expect(during).toEqual([503, 503, 503]);
    // ext_authz is back: the right password must be served again.
    rmSync(flag);
    expect(await login()).toBe(200);
  } finally {
    await s.server.close(100);
  }
});
