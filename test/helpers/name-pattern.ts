import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { AuthzDecision } from '../../src/authz/types.js';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from './fixtures.js';

/**
 * For a test file about one glob or regex of `match.name`: a config whose only rule grants alice
 * `pull` on the names `pattern` matches, loaded as `regauth serve` loads it (a signing key made
 * for the file, removed after it), and alice's decision on a name.
 */
export function namePatternRule(prefix: string): {
  /** The config; throws ConfigErrors when the pattern is refused at load. */
  load(pattern: string): Config;
  /** The config, or undefined when the pattern is refused at load (a test that accepts either). */
  loadUnlessRefused(pattern: string): Config | undefined;
  /** alice asking to pull `name` under `config`. */
  decide(config: Config, name: string): AuthzDecision;
} {
  const tmp = tempDir(prefix);
  let keys: { keyPath: string; certPath: string };
  beforeAll(async () => {
    keys = await writeSigningKey(tmp.dir);
  });
  afterAll(() => tmp.cleanup());
  const load = (pattern: string): Config =>
    loadConfigText(
      [
        `token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}`,
        'users: {alice: {}}',
        'acl:',
        `  - match: {name: ${JSON.stringify(pattern)}}`,
        '    actions: [pull]',
      ].join('\n'),
      { file: join(tmp.dir, 'config.yml') },
    );
  return {
    load,
    loadUnlessRefused(pattern) {
      try {
        return load(pattern);
      } catch (err) {
        if (err instanceof ConfigErrors) return undefined;
        throw err;
      }
    },
    decide: (config, name) =>
      config.acl.authorize({
        account: 'alice',
        type: 'repository',
        name,
        service: 'registry',
        ip: null,
        labels: {},
        actions: ['pull'],
      }),
  };
}
