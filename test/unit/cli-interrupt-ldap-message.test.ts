/**
 * Found by a review of 9c681c6 ("Kill a tool's ext commands when Ctrl-C or SIGTERM stops it").
 *
 * The commit: stopped by a signal, `regauth check`/`test` close the runtime first, "then end by
 * the same signal"; before it, Ctrl-C ended them at once and silently. withRuntime's handler
 * (src/cli/tools.ts) closes the runtime while the verb's work is still under way: with ldap_auth,
 * closing unbinds the service connection, which fails the search in flight at once, and the verb
 * reports that failure as its own error before the signal is raised again:
 *   regauth: ldap_auth: Connection closed before message response was received. …
 * A user who pressed Ctrl-C (or a CI job cancelled) is told the directory failed. (With ext
 * commands the same race is hidden only because closing waits ~100 ms for the /proc sweep.)
 * The work's outcome should be dropped once a signal is handling the exit.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = tempDir('regauth-review-r2-int-ldap-');
let directory: Server;
let port = 0;
let connected: () => void = () => undefined;
const sockets: Socket[] = [];

beforeAll(async () => {
  // A directory that accepts the connection and never answers (a hung server).
  directory = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', () => connected());
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => directory.listen(0, '127.0.0.1', r));
  port = (directory.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => directory.close(r));
  tmp.cleanup();
});

test('`regauth check` stopped by SIGINT while ldap_auth waits: ends by SIGINT without blaming the directory', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const config = join(tmp.dir, 'config.yml');
  writeFileSync(
    config,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
acl: [{match: {}, actions: [pull]}]
ldap_auth:
  addr: 127.0.0.1:${port}
  tls: none
  base: dc=example,dc=org
  filter: (uid=\${account})
  operation_timeout: 30
`,
  );
  const asked = new Promise<void>((r) => (connected = r));
  const cli = spawn(
    process.execPath,
    [
      join(ROOT, 'dist/cli/main.js'),
      'check',
      '-c',
      config,
      '--account',
      'alice',
      '--password-stdin',
      '--scope',
      'repository:a:pull',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  cli.stdout.resume();
  cli.stdin.end('a-password');
  const exited = new Promise<NodeJS.Signals | number | null>((r) =>
    cli.on('exit', (code, signal) => r(signal ?? code)),
  );
  await asked;
  cli.kill('SIGINT');
  expect(await exited).toBe('SIGINT');
  // Today: "regauth: ldap_auth: Connection closed before message response was received. Message type: SearchRequest (0x63)"
  expect(stderr).not.toMatch(/ldap_auth/);
}, 20_000);
