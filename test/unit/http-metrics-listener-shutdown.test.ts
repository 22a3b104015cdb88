/**
 * Found by a review of the operational endpoints. docs/operations.md "Shutdown": "SIGTERM (or
 * SIGINT) stops accepting connections, lets requests in flight finish for up to 10 s";
 * Service.close(): "Graceful stop: stops accepting, in-flight requests finish within graceMs".
 *
 * The metrics listener (`metrics.addr`) is closed at once instead: startMetricsServer's close()
 * calls closeAllConnections() right after server.close(), and Service.close() runs it beside the
 * token listener's graceful close. A scrape or a `/readyz` in flight there when SIGTERM comes (a
 * readiness check may take its 2 s) is cut off without an answer (a failed scrape, a probe that
 * reads a reset as a failure), while the same request on the token listener would be answered.
 *
 * Fix (src/http/metrics.ts startMetricsServer's close, src/service/service.ts close): let the
 * metrics listener's requests in flight finish within the same grace (server.close(), then
 * closeAllConnections() only once graceMs has passed), as the token listener does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import type { Authenticator } from '../../src/authn/types.js';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-review-metrics-shutdown-');
afterAll(() => tmp.cleanup());

test('a /readyz in flight on the metrics listener is answered when the service shuts down gracefully', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users:
  alice: {password: "${hash(randomPassword())}"}
acl: []
metrics: {addr: "127.0.0.1:0"}
`,
  );
  // A readiness check (as the LDAP directory's) that answers only when the test lets it.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let checking!: () => void;
  const checked = new Promise<void>((resolve) => (checking = resolve));
  const check = async (): Promise<void> => {
    checking();
    await gate;
  };
  const withCheck = (a: Authenticator): Authenticator =>
    new Proxy(a, {
      get(target, prop) {
        if (prop === 'check') return check;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  const service = await startService({
    configFile,
    logger: createLogger({ destination: logSink().stream, format: 'json' }),
    watch: false,
    runtimeDeps: { instrument: withCheck },
  });
  let closed: Promise<void> | undefined;
  try {
    const probe = fetch(`${service.metricsUrl!}/readyz`).then(
      async (res) => ({ status: res.status, body: (await res.json()) as unknown }),
      (err: unknown) => ({ error: String(err) }),
    );
    await checked;
    // SIGTERM while the probe runs: requests in flight have up to graceMs to finish.
    closed = service.close(5_000);
    release();
    const answer = await probe;
    // Answered (ready, or not ready since the process is stopping), not cut off.
    expect(answer).not.toHaveProperty('error');
    expect([200, 503]).toContain((answer as { status: number }).status);
    expect((answer as { body: { checks?: unknown } }).body.checks).toBeDefined();
  } finally {
    release();
    await (closed ?? service.close(100));
  }
}, 15_000);
