/**
 * An attacker on the path between regauth and its Redis (what `rediss://` and `ca_certificate`
 * guard against) must not be able to stop regauth. Relaying the Redis handshake with one stray
 * record appended made node's TLS socket emit a second 'error' (the record) after the first
 * (the certificate check, or the record itself), and ioredis listens for one only ('once'): the
 * second was thrown, uncaught, and `regauth serve` died on every connection attempt. The store
 * must stay unavailable, say why on /readyz, and serve.
 */
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { selfSignedCert } from './harness/certs.js';
import { acceptsConnections, freePort } from './harness/ports.js';
import { startProcess, waitFor, type ProcessHandle } from './harness/proc.js';
import { startTamperingRelay, type TamperingRelay } from './harness/tamper.js';
import { writeFileSync } from 'node:fs';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-redis-tamper-');
let redis: ProcessHandle | undefined;
let relay: TamperingRelay | undefined;
let serverCa: string;
let otherCa: string;
const running: ProcessHandle[] = [];

beforeAll(async () => {
  ensureBuilt();
  serverCa = (await selfSignedCert(tmp.dir, 'redis', '/CN=redis', 'DNS:localhost,IP:127.0.0.1')).certPath;
  otherCa = (await selfSignedCert(tmp.dir, 'other', '/CN=other')).certPath;
  const port = await freePort();
  redis = await startProcess(
    'redis-server',
    ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
      .concat(['--tls-cert-file', serverCa, '--tls-key-file', join(tmp.dir, 'redis.key')])
      .concat(['--tls-auth-clients', 'no']),
    { timeoutMs: 20_000, readyWhen: () => acceptsConnections(port) },
  );
  relay = await startTamperingRelay(port);
}, 60_000);

afterAll(async () => {
  for (const p of running) await p.stop();
  await relay?.stop();
  await redis?.stop();
  tmp.cleanup();
});

test.each([
  ['a certificate the ca_certificate did not sign', () => otherCa, /certificate/i],
  ['the right certificate', () => serverCa, /record|alert|closed|reset/i],
])(
  'a stray record after the handshake, %s: serve lives on, /readyz says why',
  async (_name, ca, reason) => {
    const metricsPort = await freePort();
    const { keyPath, certPath } = await writeSigningKey(tmp.dir, 'ES256');
    const config = join(tmp.dir, `config-${metricsPort}.yml`);
    writeFileSync(
      config,
      [
        'server: {addr: "127.0.0.1:0"}',
        `token: {issuer: tamper, key: ${keyPath}, certificate: ${certPath}}`,
        `metrics: {addr: "127.0.0.1:${metricsPort}"}`,
        'users: {}',
        'acl: []',
        'store:',
        '  type: redis',
        `  url: rediss://localhost:${relay!.port}/0`,
        `  ca_certificate: ${ca()}`,
        '',
      ].join('\n'),
    );
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      return (await res.json()) as { checks?: { store?: string } };
    };
    const serve = await startProcess(process.execPath, [MAIN, 'serve', '-c', config, '--data-dir', tmp.dir], {
      timeoutMs: 20_000,
      readyWhen: async () => (await readyz().catch(() => undefined)) !== undefined,
      name: 'regauth serve',
    });
    running.push(serve);
    const before = relay!.tampered();
    // Several reconnections (every 100 ms at first), each one tampered with.
    await waitFor(
      () => relay!.tampered() >= before + 5 || serve.exitStatus() !== undefined,
      20_000,
      'reconnections',
    );
    const store = serve.exitStatus() === undefined ? (await readyz()).checks?.store : undefined;
    expect({ exited: serve.exitStatus(), store, stderr: serve.exitStatus() && serve.logs() }).toEqual({
      exited: undefined,
      store: expect.stringMatching(reason) as unknown,
      stderr: undefined,
    });
  },
  60_000,
);
