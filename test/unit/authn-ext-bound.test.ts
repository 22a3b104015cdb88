import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { CommandResult, CommandRunner } from '../../src/ext/command.js';
import { LoginQueue } from '../../src/guard/login-queue.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { basic, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * ext_auth's per-client bound, beside a static user, as an attacker meets it: whatever keeps the
 * command busy for one address (anonymous requests run it too), a wrong password for a static
 * user and a made-up name must get the same answer.
 */

const tmp = tempDir();
const held: { req: Parameters<CommandRunner>[0]; done: (r: CommandResult) => void }[] = [];
let s: TestServer;
let runtime: Runtime;

beforeAll(async () => {
  s = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  admin: {password: "${bcrypt.hashSync(randomPassword(), 4)}"}
ext_auth: {command: /bin/false, max_concurrency: 8, max_per_client: 2}
credential_cache: {ttl: 0}
lockout: {enabled: false}
acl: [{match: {}, actions: [pull]}]
`,
    runtimeDeps: {
      // Held until released: a command that is still running. Made-up names are not its (2).
      runCommand: (req) => new Promise((done) => held.push({ req, done })),
    },
    runtime: (base) => (runtime = base),
    server: { loginQueue: new LoginQueue({ policy: () => runtime.loginQueue }) },
  });
});
afterAll(async () => {
  for (const h of held) h.done({ code: 2, signal: null, stdout: '', stderr: '' });
  await s.server.close(100);
  tmp.cleanup();
});

const get = async (client: string, authorization?: string) => {
  const res = await fetch(`${s.url}/auth?service=registry`, {
    headers: { 'x-forwarded-for': client, ...(authorization ? { authorization } : {}) },
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
};

const released = () => {
  for (const h of held.splice(0)) h.done({ code: 2, signal: null, stdout: '', stderr: '' });
};

test('anonymous requests holding the command for an address: admin:wrong and nobody:wrong get the same answer', async () => {
  const client = '10.7.0.1';
  const anonymous = [get(client), get(client)];
  while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
  const madeUp = get(client, basic('nobody', 'wrong-password'));
  const wrong = get(client, basic('admin', 'wrong-password'));
  // Both reach the command (as a login or as a decoy) once they are let through.
  for (let i = 0; i < 200 && held.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  expect(held).toHaveLength(4);
  released();
  expect(await wrong).toEqual(await madeUp);
  expect((await madeUp).status).toBe(401);
  expect((await Promise.all(anonymous)).map((r) => r.status)).toEqual([401, 401]);
});

test('logins from one address past ext_auth.max_per_client are refused before any password is checked, alike', async () => {
  const client = '10.7.0.2';
  const logins = [get(client, basic('flood1', 'x')), get(client, basic('flood2', 'x'))];
  while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
  const madeUp = await get(client, basic('nobody', 'wrong-password'));
  const wrong = await get(client, basic('admin', 'wrong-password'));
  expect(madeUp.status).toBe(429);
  expect(wrong).toEqual(madeUp);
  released();
  await Promise.all(logins);
});
