import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { basic, hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { startTestServer } from '../helpers/server.js';

/**
 * Found by a review of `regauth replay`. The reverse of tools-replay-trusted-proxies: the log
 * was recorded while regauth did not trust the proxy in front of it (client.ip is the proxy's
 * address, client.via null); the new config adds it to server.trusted_proxies. The server then
 * decides every request through it for the client in X-Forwarded-For, which the audit line does
 * not hold: an `ip:` rule on the proxy's network no longer matches. replay re-decides with the
 * proxy's address as if nothing changed and reports "no decision changes", exit 0: a deployment
 * gate passes a change that takes push away from everyone behind the proxy. docs/cli.md: every
 * distinct decision is decided again with the new config, and what the line cannot tell is listed
 * under `not re-decided`, "never guessed"; a gate "must not pass on a log it could not read".
 */
const tmp = tempDir('regauth-replay-newly-trusted-');
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
let newFile = '';
let oldFile = '';
let grantedByOldServer: string[] = [];
let grantedByNewServer: string[] = [];

/** A request as the proxy (127.0.0.1) forwards it for the client 203.0.113.7. */
async function ask(url: string): Promise<number> {
  const res = await fetch(`${url}/auth?service=registry.test&scope=repository:team/app:pull,push`, {
    headers: { authorization: basic('alice', password), 'x-forwarded-for': '203.0.113.7' },
  });
  await res.arrayBuffer();
  return res.status;
}

const decisionLines = (logs: string[]) =>
  logs
    .join('')
    .split('\n')
    .filter((l) => l.includes('"decisions"'));

const granted = (line: string) =>
  (JSON.parse(line) as { decisions: { granted: string[] }[] }).decisions[0]!.granted;

beforeAll(async () => {
  // Recorded while the proxy was not trusted: the client is taken to be the proxy itself.
  const old = await startTestServer({ dir: tmp.dir, file: 'old.yml', config: config('') });
  try {
    expect(await ask(old.url)).toBe(200);
  } finally {
    await old.server.close(100);
  }
  const lines = decisionLines(old.logs);
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!).client).toEqual({ ip: '127.0.0.1', via: null });
  grantedByOldServer = granted(lines[0]!);
  audit = join(tmp.dir, 'audit.log');
  writeFileSync(audit, `${lines.join('\n')}\n`);
  oldFile = join(tmp.dir, 'old.yml');

  // The same request against a server running the new config: the proxy is trusted now.
  const now = await startTestServer({ dir: tmp.dir, file: 'new.yml', config: config('127.0.0.1') });
  try {
    expect(await ask(now.url)).toBe(200);
  } finally {
    await now.server.close(100);
  }
  grantedByNewServer = granted(decisionLines(now.logs)[0]!);
  newFile = join(tmp.dir, 'new.yml');
});

test('the new config changes what the server grants the same request (sanity)', () => {
  expect(grantedByOldServer).toEqual(['pull', 'push']);
  expect(grantedByNewServer).toEqual(['pull']);
});

interface Report {
  changes: { after: { granted: string[] } }[];
  undetermined: unknown[];
}

test('replay does not pass the change as "no decision changes": changed as the server decides, or not re-decided', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--json']);
  const report = JSON.parse(run.stdout) as Report;
  const told =
    report.changes.some((c) => c.after.granted.join(',') === grantedByNewServer.join(',')) ||
    report.undetermined.length > 0;
  expect(told).toBe(true);
  expect(run.code).not.toBe(0);
  expect(JSON.stringify(report.undetermined)).toContain('trusts 127.0.0.1 as a proxy now');
});

test('an ACL with no rule on ip: the decision does not need the address, and is replayed', async () => {
  const file = join(tmp.dir, 'no-ip.yml');
  writeFileSync(file, readFileSync(newFile, 'utf8').replace('ip: 127.0.0.0/8, ', ''));
  const run = await regauth(['replay', '--audit', audit, '-c', file, '--json']);
  const report = JSON.parse(run.stdout) as Report;
  expect(report.undetermined).toEqual([]);
  expect(report.changes).toEqual([]);
  expect(run.code).toBe(0);
});

test('--against the old config: the same', async () => {
  const run = await regauth(['replay', '--audit', audit, '-c', newFile, '--against', oldFile, '--json']);
  const report = JSON.parse(run.stdout) as Report;
  expect(report.changes.length + report.undetermined.length).toBeGreaterThan(0);
  expect(run.code).not.toBe(0);
});
