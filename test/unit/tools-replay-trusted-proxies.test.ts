import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Found by an adversarial review. The audit line records the client address after trusted-proxy
 * resolution (`client.ip`) and the proxy it came through (`client.via`). replay re-decides with
 * `client.ip` whatever the new config's `server.trusted_proxies` says. A new config that no
 * longer trusts the proxy makes the server take the proxy's own address for the client (every
 * request through it): an `ip:` rule on the internal network then grants push to everyone behind
 * the proxy, and replay reports "no decision changes", exit 0.
 */
const tmp = tempDir('regauth-review-tools6-xff-');
afterAll(() => tmp.cleanup());

const password = randomPassword();
const config =
  (trusted: string) =>
  ({ keyPath, certPath }: { keyPath: string; certPath: string }) =>
    `server: {addr: "127.0.0.1:0", trusted_proxies: [${trusted}]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}, services: [registry.test]}
users:
  alice: {password: "${hash(password)}"}
acl:
  - match: {ip: 127.0.0.0/8, name: "team/**"}
    actions: [pull, push]
    comment: the build network pushes
  - match: {account: alice}
    actions: [pull]
`;

let audit = '';
let oldFile = '';
let newFile = '';
/** What a server running the new config grants the same request (through the same proxy). */
let grantedByNewServer: string[] = [];

async function ask(url: string): Promise<{ status: number }> {
  const res = await fetch(`${url}/auth?service=registry.test&scope=repository:team/app:pull,push`, {
    headers: { authorization: basic('alice', password), 'x-forwarded-for': '203.0.113.7' },
  });
  await res.arrayBuffer();
  return { status: res.status };
}

const decisionsOf = (logs: string[]) =>
  logs
    .join('')
    .split('\n')
    .filter((l) => l.includes('"decisions"'));

beforeAll(async () => {
  // Recorded behind our proxy (127.0.0.1, trusted): the client is 203.0.113.7.
  const old = await startTestServer({ dir: tmp.dir, file: 'old.yml', config: config('127.0.0.1') });
  try {
    expect((await ask(old.url)).status).toBe(200);
  } finally {
    await old.server.close(100);
  }
  const lines = decisionsOf(old.logs);
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!).client).toEqual({ ip: '203.0.113.7', via: '127.0.0.1' });
  audit = join(tmp.dir, 'audit.log');
  writeFileSync(audit, `${lines.join('\n')}\n`);
  oldFile = join(tmp.dir, 'old.yml');

  // The same request against a server running the new config (the proxy no longer trusted).
  const now = await startTestServer({ dir: tmp.dir, file: 'new.yml', config: config('') });
  try {
    expect((await ask(now.url)).status).toBe(200);
  } finally {
    await now.server.close(100);
  }
  const line = JSON.parse(decisionsOf(now.logs)[0]!) as { decisions: { granted: string[] }[] };
  grantedByNewServer = line.decisions[0]!.granted;
  newFile = join(tmp.dir, 'new.yml');
});

test('the server running the new config grants push through the proxy (sanity)', () => {
  expect(grantedByNewServer).toEqual(['pull', 'push']);
});

test('replay reports the decision the untrusted proxy changes, as the server decides it', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--json']);
  const report = JSON.parse(run.stdout) as {
    changes: { after: { granted: string[] } }[];
    undetermined: unknown[];
  };
  // The new config takes the proxy (client.via) for the client: exactly what the server decides.
  expect(report.undetermined).toEqual([]);
  expect(report.changes.map((c) => c.after.granted)).toEqual([grantedByNewServer]);
  expect(run.code).toBe(1);
});

test('--against the old config: the same', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--against', oldFile]);
  expect(run.stdout).not.toContain('no decision changes');
});
