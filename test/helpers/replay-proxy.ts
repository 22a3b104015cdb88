import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { basic, hash, randomPassword, tempDir } from './fixtures.js';
import { startTestServer } from './server.js';

/** What proxyChange recorded and decided (filled in by its beforeAll). */
export interface ProxyChange {
  /** The audit log: the one line the server with the old config wrote. */
  audit: string;
  oldFile: string;
  newFile: string;
  /** `client` of that line. */
  oldClient: unknown;
  /** What each server granted the same request. */
  grantedBefore: string[];
  grantedAfter: string[];
}

/**
 * One token request through a proxy (127.0.0.1, for the client 203.0.113.7), recorded by a server
 * whose config trusts `before` as a proxy (`server.trusted_proxies`, YAML list items) and asked
 * again of one that trusts `after`, under the same ACL: an `ip:` rule on 127.0.0.0/8 grants push,
 * the next rule pull. For the tests of how `regauth replay` reads a change of trusted proxies.
 */
export function proxyChange(prefix: string, trust: { before: string; after: string }): ProxyChange {
  const tmp = tempDir(prefix);
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
  /** The decision lines a server wrote for the request, once asked. */
  const decide = async (file: string, trusted: string): Promise<string[]> => {
    const server = await startTestServer({ dir: tmp.dir, file, config: config(trusted) });
    try {
      const res = await fetch(
        `${server.url}/auth?service=registry.test&scope=repository:team/app:pull,push`,
        {
          headers: { authorization: basic('alice', password), 'x-forwarded-for': '203.0.113.7' },
        },
      );
      await res.arrayBuffer();
      expect(res.status).toBe(200);
    } finally {
      await server.server.close(100);
    }
    const lines = server.logs
      .join('')
      .split('\n')
      .filter((l) => l.includes('"decisions"'));
    expect(lines).toHaveLength(1);
    return lines;
  };
  const granted = (line: string) =>
    (JSON.parse(line) as { decisions: { granted: string[] }[] }).decisions[0]!.granted;
  const change: ProxyChange = {
    audit: join(tmp.dir, 'audit.log'),
    oldFile: join(tmp.dir, 'old.yml'),
    newFile: join(tmp.dir, 'new.yml'),
    oldClient: undefined,
    grantedBefore: [],
    grantedAfter: [],
  };
  beforeAll(async () => {
    const old = await decide('old.yml', trust.before);
    change.oldClient = (JSON.parse(old[0]!) as { client: unknown }).client;
    change.grantedBefore = granted(old[0]!);
    writeFileSync(change.audit, `${old.join('\n')}\n`);
    change.grantedAfter = granted((await decide('new.yml', trust.after))[0]!);
  });
  afterAll(() => tmp.cleanup());
  return change;
}
