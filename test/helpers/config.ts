import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';

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
