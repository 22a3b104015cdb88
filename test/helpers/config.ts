import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import type { AuthzRequest } from '../../src/authz/types.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { tempDir, writeSigningKey } from './fixtures.js';

/**
 * The messages of the errors loading `yaml` (as `dir/config.yml`, so relative paths resolve
 * there) gives; [] when it loads. Anything but a config error is thrown.
 */
export function configErrors(yaml: string, dir: string): string[] {
  try {
    loadConfigText(yaml, { file: join(dir, 'config.yml') });
    return [];
  } catch (err) {
    if (err instanceof ConfigErrors) return err.errors.map((e) => e.message);
    throw err;
  }
}

/** Configs written as text for one test file, read by {@link useConfigText}'s `load`. */
export interface ConfigText {
  /** A folder for the file's tests, `config.yml`'s: relative paths resolve there. */
  readonly dir: string;
  /** The `token:` section naming the key and its certificate: 4 lines, all a config needs to load. */
  readonly head: string;
  readonly keyPath: string;
  readonly certPath: string;
  /** `head` then `yaml`, loaded as `dir/config.yml`. */
  load(yaml: string): Config;
  /** The errors loading `head` then `yaml` gives (`line N: ` before each with `lines`); [] when it loads. */
  errors(yaml: string, options?: { lines?: boolean }): string[];
  /** What `probe` makes of the config `head` then `yaml` loads, or 'refused' when it does not load. */
  outcome(yaml: string, probe: (config: Config) => unknown): unknown;
}

/**
 * A signing key and its certificate made for a test file's configs, in a folder of their own,
 * before its tests (beforeAll) and removed after them (afterAll): call it at the file's top level.
 */
export function useConfigText(prefix: string): ConfigText {
  const tmp = tempDir(prefix);
  const files = { head: '', keyPath: '', certPath: '' };
  beforeAll(async () => {
    const { keyPath, certPath } = await writeSigningKey(tmp.dir);
    Object.assign(files, {
      keyPath,
      certPath,
      head: `token:\n  issuer: x\n  key: ${keyPath}\n  certificate: ${certPath}\n`,
    });
  });
  afterAll(() => tmp.cleanup());
  const load = (yaml: string) => loadConfigText(files.head + yaml, { file: join(tmp.dir, 'config.yml') });
  const refused = <T>(read: () => T, errors: (err: ConfigErrors) => T): T => {
    try {
      return read();
    } catch (err) {
      if (err instanceof ConfigErrors) return errors(err);
      throw err;
    }
  };
  return {
    dir: tmp.dir,
    get head() {
      return files.head;
    },
    get keyPath() {
      return files.keyPath;
    },
    get certPath() {
      return files.certPath;
    },
    load,
    errors: (yaml, options = {}) =>
      refused(
        () => (load(yaml), []),
        (err) => err.errors.map((e) => (options.lines ? `line ${e.line}: ${e.message}` : e.message)),
      ),
    outcome: (yaml, probe) =>
      refused(
        () => probe(load(yaml)),
        () => 'refused',
      ),
  };
}

/** A request for pull and push on repository `name` by `account`, to ask a loaded ACL. */
export function aclRequest(
  account: string,
  name: string,
  labels: Record<string, string[]> = {},
): AuthzRequest {
  return {
    account,
    type: 'repository',
    name,
    service: 'registry',
    ip: null,
    labels,
    actions: ['pull', 'push'],
  };
}
