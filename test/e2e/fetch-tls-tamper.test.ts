/**
 * From a review (TLS tampering, after the ioredis double-'error' crash, store-redis-tls-tamper):
 * can an attacker on the path between regauth and an HTTPS peer it fetches from crash
 * `regauth serve` the same way? Every outbound HTTPS request regauth makes goes through node's
 * global fetch (undici): jwt_auth's discovery and key set (jose, openid-client with
 * fetchAtMost), oidc_auth's discovery (openid-client), the catalog's calls to the registry, and
 * `doctor --probe`.
 *
 * Here one HTTPS peer (node https, a self-signed certificate for localhost) answers as issuer,
 * key set and registry, behind startTamperingRelay (a stray plaintext alert appended to the
 * peer's first, second or third chunk: the handshake flight, the session tickets or the first
 * reply), with regauth trusting that certificate (NODE_EXTRA_CA_CERTS) or another one. Each flow
 * is triggered a few times; the process must stay up and keep answering.
 *
 * No crash was found: undici keeps its 'error' listener on the socket for the socket's life
 * (`on`, not `once`), so a second error is absorbed; a failure is a fetch rejection, which
 * regauth answers as an unavailable backend (503) or a finding. These are regression tests, and
 * pass today.
 */
import { createServer, type Server } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { basic, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { selfSignedCert } from './harness/certs.js';
import { freePort } from './harness/ports.js';
import { runCommand, startProcess, type ProcessHandle } from './harness/proc.js';
import { startTamperingRelay, type TamperingRelay } from './harness/tamper.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const tmp = tempDir('regauth-review-tls-fetch-');
let peer: Server;
let peerCert: string;
let otherCa: string;
const relays: TamperingRelay[] = [];
const running: ProcessHandle[] = [];

/** A JWT-shaped password: jwt_auth takes it and runs discovery for its issuer. */
function jwtFor(issuer: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'ES256', typ: 'JWT', kid: 'k' })}.${part({ iss: issuer, aud: 'regauth', sub: 'ci', iat: now, exp: now + 600 })}.${Buffer.alloc(64, 1).toString('base64url')}`;
}

beforeAll(async () => {
  ensureBuilt();
  peerCert = (await selfSignedCert(tmp.dir, 'peer', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1')).certPath;
  otherCa = (await selfSignedCert(tmp.dir, 'other', '/CN=other')).certPath;
  // Issuer, key set and registry in one: the issuer URL is the relay's, read from Host.
  peer = createServer(
    { cert: readFileSync(peerCert), key: readFileSync(join(tmp.dir, 'peer.key')) },
    (req, res) => {
      const base = `https://${req.headers.host}`;
      res.setHeader('Content-Type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        res.end(
          JSON.stringify({
            issuer: base,
            jwks_uri: `${base}/jwks`,
            authorization_endpoint: `${base}/authorize`,
            token_endpoint: `${base}/token`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['ES256'],
          }),
        );
      } else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [] }));
      else if (req.url?.startsWith('/v2/_catalog')) res.end(JSON.stringify({ repositories: ['a/b'] }));
      else res.end('{}');
    },
  );
  await new Promise<void>((ok) => peer.listen(0, '127.0.0.1', ok));
}, 60_000);

afterAll(async () => {
  for (const p of running) await p.stop();
  for (const r of relays) await r.stop();
  await new Promise<void>((ok) => peer.close(() => ok()));
  tmp.cleanup();
});

const CHUNKS = [0, 1, 2];

describe.each([
  // With another certificate trusted, regauth hangs up after the peer's first flight: only
  // that chunk ever comes.
  ['the peer’s certificate trusted', () => peerCert, CHUNKS],
  ['another certificate trusted', () => otherCa, [0]],
])('%s', (_name, ca, chunks) => {
  test.each(chunks)(
    'a stray record after the peer’s chunk %i: jwt_auth, oidc_auth, the catalog and doctor --probe answer, serve lives on',
    async (chunk) => {
      const peerPort = (peer.address() as { port: number }).port;
      const relay = await startTamperingRelay(peerPort, chunk);
      relays.push(relay);
      const issuer = `https://localhost:${relay.port}`;
      const port = await freePort();
      const { keyPath, certPath } = await writeSigningKey(tmp.dir, 'ES256');
      writeFileSync(join(tmp.dir, 'oidc.key'), 'x'.repeat(48));
      const config = join(tmp.dir, `config-${port}.yml`);
      writeFileSync(
        config,
        [
          `server: {addr: "127.0.0.1:${port}"}`,
          `token: {issuer: tamper, key: ${keyPath}, certificate: ${certPath}}`,
          'users: {"": {}}',
          `jwt_auth: {issuers: [{issuer: "${issuer}", audience: regauth}], timeout: 2}`,
          'oidc_auth:',
          `  issuer: "${issuer}"`,
          '  client_id: regauth',
          '  client_secret: s',
          `  redirect_url: http://127.0.0.1:${port}/oidc/callback`,
          '  registry_url: localhost:5000',
          `  secret_file: ${join(tmp.dir, 'oidc.key')}`,
          '  timeout: 2',
          'catalog:',
          `  registry_url: "${issuer}"`,
          `  realm: http://127.0.0.1:${port}/auth`,
          '  registry_service: registry',
          '  cache_ttl: 0',
          '  timeout: 2',
          'acl: [{match: {}, actions: ["*"]}]',
          '',
        ].join('\n'),
      );
      const serve = await startProcess(
        process.execPath,
        [MAIN, 'serve', '-c', config, '--data-dir', tmp.dir],
        {
          timeoutMs: 20_000,
          env: { NODE_EXTRA_CA_CERTS: ca() },
          readyWhen: async () =>
            (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true,
          name: 'regauth serve',
        },
      );
      running.push(serve);
      const url = `http://127.0.0.1:${port}`;
      const before = relay.tampered();
      const statuses: number[] = [];
      for (let i = 0; i < 3 && serve.exitStatus() === undefined; i++) {
        // jwt_auth: discovery, then (with the right CA, chunk past the handshake) the key set.
        const jwt = await fetch(`${url}/auth?service=registry&scope=repository:a/b:pull`, {
          headers: { Authorization: basic('ci', jwtFor(issuer)) },
        }).catch(() => undefined);
        statuses.push(jwt?.status ?? -1);
        // oidc_auth: discovery.
        const login = await fetch(`${url}/oidc/login`, { redirect: 'manual' }).catch(() => undefined);
        statuses.push(login?.status ?? -1);
        // The catalog: regauth asks the registry.
        const token = await fetch(`${url}/auth?service=regauth-catalog&scope=registry:catalog:*`)
          .then((r) => r.json() as Promise<{ token?: string }>)
          .catch(() => ({}) as { token?: string });
        const catalog = await fetch(`${url}/v2/_catalog`, {
          headers: { Authorization: `Bearer ${token.token ?? ''}` },
        }).catch(() => undefined);
        statuses.push(catalog?.status ?? -1);
        await new Promise((r) => setTimeout(r, 100));
      }
      // doctor --probe fetches the realm: put the relay there too (a CLI, but not to crash either).
      const registryConfig = join(tmp.dir, `registry-${port}.yml`);
      writeFileSync(
        registryConfig,
        `version: 0.1\nauth:\n  token:\n    realm: ${issuer}/auth\n    service: registry\n    issuer: tamper\n    rootcertbundle: ${certPath}\n`,
      );
      const doctor = await runCommand(
        process.execPath,
        [MAIN, 'doctor', '-c', config, '--data-dir', tmp.dir, '--registry-config', registryConfig, '--probe'],
        { timeoutMs: 30_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: ca() } },
      ).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
      const healthz = serve.exitStatus() === undefined ? (await fetch(`${url}/healthz`)).status : undefined;
      expect(relay.tampered()).toBeGreaterThan(before);
      expect({
        exited: serve.exitStatus(),
        healthz,
        // Every flow answered: none hung up (-1) or hit a bug (500).
        broken: statuses.filter((s) => s === -1 || s === 500),
        doctorBug:
          doctor.code === 70 || /report|uncaught|Error: /i.test(doctor.stderr) ? doctor.stderr : undefined,
        stderr: serve.exitStatus() && serve.logs(),
      }).toEqual({ exited: undefined, healthz: 200, broken: [], doctorBug: undefined, stderr: undefined });
    },
    90_000,
  );
});
