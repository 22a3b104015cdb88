/**
 * docs/cli.md "`regauth who-can`": a rule is marked shadowed only when an earlier rule matches
 * every request it matches, and its answers are the ones the server gives. Two conditions written
 * alike counted as the same test, but a capture placeholder (`${name:1}`) reads a group of its own
 * rule's regex: who-can called a rule shadowed that the server decides with, and listed none of
 * the accounts it grants. Found by a review.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigFile, type Config } from '../../src/config/load.js';
import { whoCan } from '../../src/tools/who-can.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-who-can-captures-');
let config: Config;

beforeAll(async () => {
  const keys = await writeSigningKey(tmp.dir);
  const file = join(tmp.dir, 'config.yml');
  // Two rules whose `labels.team` patterns are written alike (`${name:1}`) but take their value
  // from different captures of their own `name` regex: team prod owns prod/**, and the team named
  // after an app (api) may pull that app.
  writeFileSync(
    file,
    `token: {issuer: acme, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users:
  alice: {password: "${hash(randomPassword())}", labels: {team: [api]}}
acl:
  - match: {name: '/^([^/]+)\\//', labels: {team: '\${name:1}'}}
    actions: [push, pull]
    comment: team owns its namespace
  - match: {name: '/^[^/]+\\/([^/]+)$/', labels: {team: '\${name:1}'}}
    actions: [pull]
    comment: app team pulls its app
`,
  );
  config = loadConfigFile(file);
});
afterAll(() => tmp.cleanup());

test('who-can does not call a rule shadowed when an earlier rule with the same-looking capture placeholder takes another capture', () => {
  // The server: alice (team api) gets pull on prod/api from acl[1]; acl[0] does not match her.
  const decision = config.acl.authorize({
    account: 'alice',
    type: 'repository',
    name: 'prod/api',
    service: '',
    ip: null,
    labels: { team: ['api'] },
    actions: ['pull'],
  });
  expect(decision).toMatchObject({ rule: 1, granted: ['pull'] });

  const report = whoCan(config, { scope: 'repository:prod/api:pull' });
  const rule1 = report.rules.find((r) => r.index === 1);
  expect(rule1).toBeDefined();
  // acl[0] requires team = prod, acl[1] team = api: acl[0] does not match every request acl[1] does.
  expect(rule1!.shadowedBy).toBeNull();
  // And the static account it decides for is listed.
  expect(rule1!.accounts.map((a) => a.account)).toContain('alice');
});
