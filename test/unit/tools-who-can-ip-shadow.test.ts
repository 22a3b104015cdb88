import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { regauth } from '../helpers/cli.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by an adversarial review of `regauth who-can`.
 *
 * docs/cli.md: rules "that can never decide this scope because an earlier rule matches every
 * request they match are marked `shadowed by acl[N]`". For a condition on `ip`, who-can decides
 * that by comparing the text of the two rules' `ip` (sameCondition), not the blocks. So a later
 * rule on the very same block written otherwise (host bits set, `10.1.2.3/8`, which docs/acl.md
 * says "is 10.0.0.0/8"; the IPv4-mapped `::ffff:10.0.0.0/104`, also 10.0.0.0/8 there), or on a
 * block inside the earlier one (`10.1.0.0/16`), is not marked shadowed. Worse, the static
 * account is listed under it as granted: "acl[1]: grants push … static accounts: alice (from
 * 10.1.2.3/8)". The operator reads that alice can push prod/api from the office; from every
 * address those rules match, the endpoint decides with acl[0] and grants alice nothing.
 */
const tmp = tempDir('regauth-review-whocan-ip-');
afterAll(() => tmp.cleanup());
let configFile = '';

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  configFile = join(tmp.dir, 'config.yml');
  writeFileSync(
    configFile,
    `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {ip: 10.0.0.0/8, name: "prod/**"}
    actions: []
    comment: nobody touches prod from the office network
  - match: {ip: 10.1.2.3/8, name: "prod/**"}
    actions: [pull, push]
    comment: the same block, host bits set
  - match: {ip: "::ffff:10.0.0.0/104", name: "prod/**"}
    actions: [pull, push]
    comment: the same block, IPv4-mapped
  - match: {ip: 10.1.0.0/16, name: "prod/**"}
    actions: [pull, push]
    comment: a block inside it
`,
  );
});

test('from any address those rules match, acl[0] decides and alice gets nothing (sanity)', async () => {
  for (const ip of ['10.0.0.1', '10.1.2.3', '10.1.255.254', '::ffff:10.1.2.3', '10.200.0.9']) {
    const run = await regauth([
      'check',
      '-c',
      configFile,
      '--account',
      'alice',
      '--scope',
      'repository:prod/api:push',
      '--ip',
      ip,
      '--json',
    ]);
    expect(JSON.parse(run.stdout)).toMatchObject({ granted: [], rule: { index: 0 } });
  }
});

test('who-can marks acl[1..3] shadowed by acl[0], and lists alice under none of them', async () => {
  const run = await regauth(['who-can', 'repository:prod/api:push', '-c', configFile, '--json']);
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as {
    rules: { path: string; shadowedBy: { path: string } | null; accounts: { account: string }[] }[];
  };
  for (const path of ['acl[1]', 'acl[2]', 'acl[3]']) {
    const rule = report.rules.find((r) => r.path === path)!;
    expect({ path, accounts: rule.accounts.map((a) => a.account) }).toEqual({ path, accounts: [] });
    expect({ path, shadowedBy: rule.shadowedBy?.path ?? null }).toEqual({ path, shadowedBy: 'acl[0]' });
  }
});
