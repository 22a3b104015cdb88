import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { developmentKey, loadConfigFile, namedFiles, type Config } from '../config/load.js';
import type { Logger } from '../core/log.js';
import { devKeyFiles, ensureDevKeys } from '../token/generate.js';
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
      const named = namedFiles(configFile);
      const devKeyMissing = !named.namesKey && !existsSync(devKeyFiles(dataDir).keyPath);
      if (devKeyMissing) await checkWithThrowawayKey(configFile);
      const devKey = await developmentKey(named, dataDir, true);
      if (devKey?.created) {
        createdDevKey = true;
        notices.notify((l) =>
          l.warn(
            { key: devKey.keyPath, certificate: devKey.certificatePath },
            'created a development signing key; set token.key and token.certificate for production',
          ),
        );
      }
      return loadConfigFile(configFile, { ...(devKey ? { devKey } : {}), devRefreshSecret });
    },
  };
}

/**
 * Loads `configFile` with a throwaway development key and secret, throwing its errors: an invalid
 * config must not leave a development key in the data folder. Skipped when no temporary folder
 * can be made.
 */
async function checkWithThrowawayKey(configFile: string): Promise<void> {
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), 'regauth-check-'));
  } catch {
    // No usable temporary folder (a read-only root, TMPDIR pointing nowhere): the config is then
    // checked only by the real load, as before this check existed; it must not stop a valid start.
    return;
  }
  try {
    const made = await ensureDevKeys(dir);
    loadConfigFile(configFile, {
      devKey: { keyPath: made.keyPath, certificatePath: made.certPath },
      devRefreshSecret: () => ensureRefreshSecret(join(dir, 'refresh.key')).path,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
