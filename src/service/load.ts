import { resolve } from 'node:path';
import { loadConfigFile, namedFiles, type Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import { devKeyFiles, pendingDevKeys } from '../token/generate.js';
import { ensureRefreshSecret } from '../token/refresh.js';

/**
 * Notices made before the logger exists (it is made from the loaded config), said once it does.
 * Afterwards each notice is said at once.
 */
export class HeldNotices {
  #logger: Logger | undefined;
  #held: ((l: Logger) => void)[] = [];

  notify(notice: (l: Logger) => void): void {
    if (this.#logger) notice(this.#logger);
    else this.#held.push(notice);
  }

  /** From now on notices go to `logger`; the held ones are said first. */
  release(logger: Logger): void {
    this.#logger = logger;
    for (const notice of this.#held) notice(logger);
    this.#held = [];
  }
}

/** Loads the config as `regauth serve` does; `createdDevKey` tells whether a load made the key. */
export interface ServiceLoader {
  load(): Promise<Config>;
  /** Whether a load created the development key (serve's first start prints the registry block). */
  readonly createdDevKey: boolean;
}

/**
 * Loads `configFile` with the development fallbacks `regauth serve` has: a config that names no
 * signing key signs with the development key in `dataDir` (created on first start), and
 * `token.refresh` without `secret_file` uses a development secret beside it. Each creation is a
 * warning, for production configs name their own.
 */
export function serviceLoader(configFile: string, dataDir: string, notices: HeldNotices): ServiceLoader {
  let createdDevKey = false;
  const devRefreshSecret = () => {
    const secret = ensureRefreshSecret(resolve(dataDir, 'refresh.key'));
    if (secret.created) {
      notices.notify((l) =>
        l.warn(
          { secret: secret.path },
          'created a development refresh-token secret; set token.refresh.secret_file for production',
        ),
      );
    }
    return secret.path;
  };
  return {
    get createdDevKey() {
      return createdDevKey;
    },
    async load() {
      if (namedFiles(configFile).namesKey) return loadConfigFile(configFile, { devRefreshSecret });
      // Made in memory when missing; the loader writes it only once the rest of the config loaded.
      const write = await pendingDevKeys(dataDir);
      const files = devKeyFiles(dataDir);
      const create = () => {
        if (!write?.()) return;
        createdDevKey = true;
        notices.notify((l) =>
          l.warn(
            { key: files.keyPath, certificate: files.certificatePath },
            'created a development signing key; set token.key and token.certificate for production',
          ),
        );
      };
      return loadConfigFile(configFile, { devKey: { ...files, create }, devRefreshSecret });
    },
  };
}
