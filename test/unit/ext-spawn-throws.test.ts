import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ExtAuthenticator } from '../../src/authn/ext.js';
import { ExtAuthorizer } from '../../src/authz/ext.js';
import type { ExtCommandConfig } from '../../src/ext/config.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { Secret } from '../../src/core/secret.js';

// Found by a review of ext_auth and ext_authz: node's spawn() emits 'error' asynchronously only for EACCES, EAGAIN, EMFILE,
// ENFILE and ENOENT; every other failure to start (ETXTBSY, ELOOP, ENOMEM from fork under memory
// pressure, E2BIG, ...) is THROWN synchronously. spawnRunner calls spawn() inside a Promise
// executor without try/catch, so the run rejects with a plain Error, not CommandFailure:
// backendCommand rethrows it, and the request becomes an opaque 500 "internal error" (no
// Retry-After, no dummy bcrypt comparison), and a decoy swallows it (ExtAuthenticator.decoy
// returns only BackendUnavailableError), so a static user's wrong password gets 401 while a
// made-up name gets 500. ETXTBSY is what an admin gets by redeploying the script (cp over it)
// while regauth runs it.

const dir = mkdtempSync(join(tmpdir(), 'regauth-review-ext-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (command: string): ExtCommandConfig => ({
  command,
  args: [],
  timeoutMs: 5000,
  maxConcurrency: 2,
  maxPerClient: 2,
});

/** A command path whose exec fails with ELOOP (a symlink loop: the script was replaced by a bad link). */
const loop = join(dir, 'loop-a');
symlinkSync(join(dir, 'loop-b'), loop);
symlinkSync(loop, join(dir, 'loop-b'));
const loopCommand = () => loop;

/** A script held open for writing (being redeployed): its exec fails with ETXTBSY. Returns the fd to close. */
function busyCommand(): { command: string; fd: number } {
  const command = join(dir, 'busy.sh');
  writeFileSync(command, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  return { command, fd: openSync(command, 'r+') };
}

describe('a command that node refuses to start synchronously is a backend failure (503), not a 500', () => {
  test('ext_auth, ELOOP', async () => {
    const authn = new ExtAuthenticator(config(loopCommand()));
    const error = await authn
      .authenticate({ account: 'alice', password: new Secret('pw') })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/ext_auth: cannot run: ELOOP/);
  });

  test('ext_auth, ETXTBSY (the script is being rewritten)', async () => {
    const { command, fd } = busyCommand();
    try {
      const authn = new ExtAuthenticator(config(command));
      const error = await authn
        .authenticate({ account: 'alice', password: new Secret('pw') })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toMatch(/ext_auth: cannot run: ETXTBSY/);
    } finally {
      closeSync(fd);
    }
  });

  test('ext_auth decoy: the failure is reported as the outage a made-up name meets', async () => {
    const authn = new ExtAuthenticator(config(loopCommand()));
    const outcome = await authn.decoy({ account: 'admin', password: new Secret('wrong') });
    expect(outcome).toBeInstanceOf(BackendUnavailableError);
  });

  test('ext_authz, ELOOP', async () => {
    const authz = new ExtAuthorizer(config(loopCommand()));
    const error = await authz
      .authorize({
        account: 'alice',
        type: 'repository',
        name: 'a/b',
        service: 'registry',
        ip: null,
        labels: {},
        actions: ['pull'],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/ext_authz: cannot run: ELOOP/);
  });
});

describe('over HTTP, the script swapped for one that cannot be exec()ed after load', () => {
  test("a made-up name and a static user's wrong password both get 503 (not 500 / 401)", async () => {
    const { default: bcrypt } = await import('bcryptjs');
    const { startTestServer } = await import('../helpers/server.js');
    const { basic, randomPassword } = await import('../helpers/fixtures.js');
    const script = join(dir, 'deployed.sh');
    writeFileSync(script, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const s = await startTestServer({
      dir,
      config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  breakglass: {password: "${bcrypt.hashSync(randomPassword(), 4)}"}
ext_auth: {command: ${script}, max_concurrency: 8, max_per_client: 8}
login_queue: {per_client: 8}
credential_cache: {ttl: 0}
lockout: {enabled: false}
acl: [{match: {}, actions: [pull]}]
`,
    });
    // A redeploy gone wrong: the script replaced by a link that loops (ELOOP at exec).
    rmSync(script);
    symlinkSync(loop, script);
    try {
      const status = async (account: string) =>
        (
          await fetch(`${s.url}/auth?service=registry`, {
            headers: { authorization: basic(account, 'wrong-pw') },
          })
        ).status;
      expect([await status('nobody-at-all'), await status('breakglass')]).toEqual([503, 503]);
    } finally {
      await s.server.close(100);
    }
  });
});
