/**
 * docs/cli.md "Which service `check` and `test` use": the token endpoint answers 400 for a
 * service `token.services` does not list, before any rule is tried. who-can --service took such
 * a service and listed the accounts its rules grant, where `check --service` exits 2. Found by a
 * review.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigFile, type Config } from '../../src/config/load.js';
import { whoCan } from '../../src/tools/who-can.js';
import { UsageError } from '../../src/core/errors.js';
import { refusedService } from '../../src/pipeline/pipeline.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir('regauth-who-can-service-');
let config: Config;

beforeAll(async () => {
  const keys = await writeSigningKey(tmp.dir);
  const file = join(tmp.dir, 'config.yml');
  writeFileSync(
    file,
    `token: {issuer: acme, key: ${keys.keyPath}, certificate: ${keys.certPath}, services: [registry.example.com]}
users:
  alice: {password: "${hash(randomPassword())}"}
acl:
  - match: {account: alice, service: other}
    actions: ['*']
    comment: a rule for a service the token endpoint refuses
`,
  );
  config = loadConfigFile(file);
});
afterAll(() => tmp.cleanup());

test('who-can --service with a service token.services does not list is refused, as check refuses it', () => {
  // The token endpoint refuses the service before any rule is tried.
  expect(refusedService(config.token.services, 'other', config.catalog?.service)).toBeDefined();
  const ask = (service: string) => () => whoCan(config, { scope: 'repository:prod/api:push', service });
  expect(ask('other')).toThrow(UsageError);
  expect(ask('other')).toThrow(/not in token\.services \(registry\.example\.com\)/);
  // The service the endpoint serves is reported as before: no rule covers it.
  expect(ask('registry.example.com')().rules).toEqual([]);
});
