/**
 * Found by a review of config reload and the key tools. docs/operations.md ("Reload"): "The new config is loaded and compiled completely before it
 * replaces the old one in one step; requests already running finish with the old one."
 *
 * src/service/reload.ts closes the replaced runtime's backends a fixed 30 s (RETIRE_AFTER_MS)
 * after the swap, whether requests still hold it or not. closeRuntime aborts every ext_auth run in
 * flight, so a login still under way then is answered 503, the backend counted as failed. The
 * config allows such logins: ext_auth.timeout up to 60 s (and as long again waiting for a
 * max_concurrency slot), ldap_auth up to twice operation_timeout (120 s). A reload of any kind
 * (an ACL edit, `keys activate`) thus fails the slow logins in flight.
 *
 * Fix: src/service/reload.ts, close a retired runtime once the requests holding it have finished
 * (count them per runtime), or not before the longest a request may take under its config.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, test, vi } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { basic, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-retire-');
afterAll(() => tmp.cleanup());
afterEach(() => vi.useRealTimers());

test('a login still running 31 s after a reload (ext_auth timeout 60 s) is answered, not cut off', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const go = join(tmp.dir, 'go');
  const started = join(tmp.dir, 'started');
  const script = join(tmp.dir, 'slow-auth.sh');
  // A login that takes its time (an MFA push waiting for the user): it answers once `go` exists.
  writeFileSync(
    script,
    `#!/bin/sh\ncat >/dev/null\n: > ${started}\nwhile [ ! -e ${go} ]; do sleep 0.05; done\nexit 0\n`,
  );
  chmodSync(script, 0o755);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (comment: string) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
ext_auth: {command: ${script}, timeout: 60}
acl: [{match: {}, actions: [pull], comment: ${comment}}]
`;
  writeFileSync(configFile, config('one'));
  const service = await startService({
    configFile,
    logger: createLogger({ destination: logSink().stream, format: 'json' }),
    watch: false,
  });
  try {
    const answer = fetch(`${service.url}/auth?service=registry.example.com&scope=repository:a:pull`, {
      headers: { authorization: basic('alice', 'pw') },
    });
    await vi.waitFor(
      () => {
        if (!existsSync(started)) throw new Error('not started');
      },
      { timeout: 5000, interval: 20 },
    );
    // An ACL edit while the login runs; 31 s pass (the clock only) before it answers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    writeFileSync(configFile, config('two'));
    await service.reload();
    vi.advanceTimersByTime(31_000);
    vi.useRealTimers();
    writeFileSync(go, '');
    const res = await answer;
    expect(res.status).toBe(200);
  } finally {
    writeFileSync(go, '');
    await service.close(100);
  }
}, 20_000);
