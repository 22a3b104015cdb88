import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { ExtAuthenticator } from '../../src/authn/ext.js';
import { authenticate } from '../../src/authn/chain.js';
import { bcryptVerifier } from '../../src/authn/password.js';
import { StaticUsersAuthenticator } from '../../src/authn/users.js';
import { Secret } from '../../src/core/secret.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';

/**
 * docs/security.md "User enumeration": every failed login with a password costs the same, whoever
 * it names. ext_auth keeps names holding a backslash away from its command (no_match, nothing
 * run). Found by a review: its decoy, after a static user's wrong password, ran the command
 * whatever the name, so for names with a backslash (DOMAIN\user, common with Active Directory) a
 * static user's wrong password cost one run and a made-up name none: the time told them apart.
 */
const tmp = tempDir('regauth-ext-decoy-');
afterAll(() => tmp.cleanup());

test('a static user named with a backslash and a made-up one cost the command the same runs', async () => {
  const runs = join(tmp.dir, 'runs.txt');
  writeFileSync(runs, '');
  const script = join(tmp.dir, 'slow-auth.sh');
  // Counts its runs and takes 300 ms, as a command that asks a directory would.
  writeFileSync(script, `#!/bin/sh\nread -r a p || true\necho run >> "${runs}"\nsleep 0.3\nexit 2\n`);
  chmodSync(script, 0o755);
  const verifier = bcryptVerifier(4);
  const chain = [
    new StaticUsersAuthenticator(
      'users',
      new Map([['corp\\deploy', { passwordHash: hash(randomPassword()), labels: {} }]]),
      verifier,
    ),
    new ExtAuthenticator({ command: script, args: [], timeoutMs: 5000, maxConcurrency: 4, maxPerClient: 4 }),
  ];
  const runsNow = () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;

  let t = performance.now();
  const known = await authenticate(
    chain,
    { account: 'corp\\deploy', password: new Secret('wrong') },
    verifier,
  );
  const knownMs = performance.now() - t;
  const knownRuns = runsNow();

  t = performance.now();
  const unknown = await authenticate(
    chain,
    { account: 'corp\\nobody', password: new Secret('wrong') },
    verifier,
  );
  const unknownMs = performance.now() - t;
  const unknownRuns = runsNow() - knownRuns;

  expect(known.outcome).toBe('denied');
  expect(unknown.outcome).toBe('denied');
  // Same work for both: either both run the command (decoy) or neither does.
  expect([knownRuns, unknownRuns]).toEqual([0, 0]);
  expect(Math.abs(knownMs - unknownMs)).toBeLessThan(150);
});
