import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, tempDir } from '../helpers/fixtures.js';
import { proxiedConfig, startTestServer } from '../helpers/server.js';

/**
 * docs/security.md: the lockout "cannot be turned against users". Found by a review of a change
 * that counted every BackendUnavailableError of a password login as a failure, a login that
 * never got a slot at its backend (`no free slot within …`: ext_auth's max_concurrency,
 * ldap_auth's limiter) included. Anyone can fill those slots with made-up names from their own
 * address; each right-password login of a user at another address that timed out waiting was
 * then counted against that user's own (account, address) pair, and once the flood stopped the
 * user was locked out (429).
 */
const tmp = tempDir('regauth-slot-flood-lock-');
let script: string;
beforeAll(() => {
  script = join(tmp.dir, 'auth.sh');
  // The victim's right password is answered in 0.4 s (a remote check); anything else holds the
  // command until its timeout.
  writeFileSync(
    script,
    '#!/bin/sh\nread -r acct pw\nif [ "$acct" = victim ] && [ "$pw" = right-password ]; then sleep 0.4; exit 0; fi\nsleep 5\nexit 2\n',
  );
  chmodSync(script, 0o755);
});
afterAll(() => tmp.cleanup());

test("a flood of made-up names at ext_auth does not lock out another address's right password", async () => {
  let runtime: Runtime | undefined;
  const s = await startTestServer({
    dir: tmp.dir,
    // trusted_proxies only lets the test play two client addresses through X-Forwarded-For.
    config: proxiedConfig(`ext_auth: {command: ${script}, timeout: 1s, max_concurrency: 1, max_per_client: 1}
credential_cache: {ttl: 0}
lockout: {max_failures: 2, backoff: 60}
`),
    runtime: (base) => (runtime = base),
    server: {
      loginQueue: new LoginQueue({ policy: () => runtime!.loginQueue }),
      lockout: new Lockout({ maxEntries: 1000, policy: () => runtime!.config.lockout }),
    },
  });
  const login = async (ip: string, account: string, password: string) =>
    (
      await fetch(`${s.url}/auth?service=registry`, {
        headers: { authorization: basic(account, password), 'x-forwarded-for': ip },
      })
    ).status;
  try {
    for (let round = 0; round < 2; round++) {
      // The attacker's made-up name holds the command's one slot...
      const flood = login('203.0.113.7', `nobody-${round}`, 'x');
      await new Promise((r) => setTimeout(r, 150));
      // ...and the victim's right password, from its own address, gets the slot with too little of
      // its timeout left: 503, now counted as the victim's failure.
      const v = await login('198.51.100.20', 'victim', 'right-password');
      expect(v).toBe(503);
      await flood;
    }
    // The flood is over: the victim's right password must be served.
    expect(await login('198.51.100.20', 'victim', 'right-password')).toBe(200);
  } finally {
    await s.server.close(100);
  }
}, 30_000);
