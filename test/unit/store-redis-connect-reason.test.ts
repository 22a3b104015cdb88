/**
 * Found by a review: a replica that could not reach its Redis from the start (a ca_certificate
 * that did not sign the server's certificate, a port nothing listens on) never said why. The
 * store's first problem ("not connected yet") counted as an outage already, so the reason the
 * connection failed with was never logged, and every operation, /readyz's `store` reason among
 * them, reported ioredis' "Reached the max retries per request limit (which is 0)" (the store's
 * own setting) or its own timeout. docs/deployment.md promises the reason on /readyz and in the
 * log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort, acceptsConnections } from '../e2e/harness/ports.js';
import { selfSignedCert } from '../e2e/harness/certs.js';
import { startRegauth, type RegauthStack } from '../e2e/harness/stack.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-store-reason-');
let redis: ChildProcess | undefined;
let redisPort: number;
const stacks: RegauthStack[] = [];

beforeAll(async () => {
  const server = (
    await selfSignedCert(tmp.dir, 'redis-server', '/CN=redis-server', 'DNS:localhost,IP:127.0.0.1')
  ).certPath;
  await selfSignedCert(tmp.dir, 'another-ca', '/CN=another-ca', 'DNS:other.example');
  redisPort = await freePort();
  redis = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--tls-cert-file',
      server,
      '--tls-key-file',
      join(tmp.dir, 'redis-server.key'),
      '--tls-auth-clients',
      'no',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !(await acceptsConnections(redisPort)); i++)
    await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  for (const s of stacks) await s.stop();
  if (redis?.pid !== undefined) process.kill(redis.pid, 'SIGTERM');
  tmp.cleanup();
});

async function start(store: string): Promise<{ stack: RegauthStack; reason: string }> {
  const metricsPort = await freePort();
  const stack = await startRegauth({
    name: 'store-connect-reason',
    config: `metrics: {addr: "127.0.0.1:${metricsPort}"}\nusers: {}\nacl: []\nstore:\n${store}`,
  });
  stacks.push(stack);
  await new Promise((r) => setTimeout(r, 1_500));
  const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
  const body = (await ready.json()) as { checks?: { store?: string } };
  return { stack, reason: body.checks?.store ?? JSON.stringify(body) };
}

test.each([
  [
    'rediss:// with a ca_certificate that did not sign the server’s',
    'tls',
    /certificate|self.signed|altname/i,
  ],
  ['redis:// to a port nothing listens on', 'refused', /ECONNREFUSED|refused/i],
])('%s: the reason reaches /readyz or the log', async (_name, kind, cause) => {
  const store =
    kind === 'tls'
      ? `  type: redis\n  url: rediss://localhost:${redisPort}/0\n  ca_certificate: ${join(tmp.dir, 'another-ca.crt')}\n`
      : `  type: redis\n  url: redis://127.0.0.1:${await freePort()}/0\n`;
  const { stack, reason } = await start(store);
  const logged = stack.logs.filter((l) => /store/.test(l)).join('\n');
  expect({ reason, logged }).toEqual({
    reason: expect.stringMatching(cause) as unknown,
    logged: expect.stringMatching(cause) as unknown,
  });
});
