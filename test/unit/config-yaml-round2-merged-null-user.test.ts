/**
 * Found by a review of 221c2d0 ("Respell every number or boolean key as written, merged keys too").
 *
 * The commit says "~ and null stay refused, saying docker_auth read them as the anonymous
 * account", and merged keys are handled for numbers. But the refusal looks only at the keys
 * written directly under users: (nonStringKeysAt(['users'])). A `~:` user brought in by a merge
 * key is the string "null" to js-yaml and loads silently as the account "null": a login as
 * `null` with that password succeeds, where docker_auth (yaml.v2 decodes a null key into a Go
 * string as "") made it the anonymous account.
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { hash } from '../helpers/fixtures.js';
import { useConfigText } from '../helpers/config.js';

const configs = useConfigText('regauth-review2-null-user-');

test('a user ~ merged in with <<: is refused as the one written in place is, not made user "null"', () => {
  const yaml = `${configs.head}users:\n  <<: {~: {password: "${hash('pw')}"}}\n  alice: {password: "${hash('a')}"}\n`;
  let outcome: string;
  try {
    const config = loadConfigText(yaml, { file: join(configs.dir, 'config.yml') });
    outcome = `loaded with users ${JSON.stringify([...config.users!.keys()])}`;
  } catch (err) {
    outcome = err instanceof ConfigErrors ? 'refused' : String(err);
  }
  expect(outcome).toBe('refused');
});
