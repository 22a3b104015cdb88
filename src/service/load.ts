import { existsSync, lstatSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfigFile, namedFiles, type Config, type LoadOptions } from '../config/load.js';
import { quoteAccount } from '../core/account-name.js';
import { ConfigError, ConfigErrors, formatPath, isSystemError } from '../core/errors.js';
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

/**
 * The file beside the development key that says its registry block is still to be printed (the
 * start that made the key could not listen).
 */
export const PENDING_BLOCK = 'registry-block.pending';

/** Loads the config as `regauth serve` does; `createdDevKey` tells whether a load made the key. */
export interface ServiceLoader {
  /** `running`: the config serving now, for a reload (none at start). */
  load(running?: Config): Promise<Config>;
  /** Whether a load created the development key. */
  readonly createdDevKey: boolean;
  /**
   * Whether the registry block of the development key is still to be printed: its key was made by
   * this start, or by one that never got to listen (the port taken), and no start printed it.
   */
  readonly blockPending: boolean;
  /** The block was printed: later starts do not print it. */
  blockShown(): void;
}

/** The config as the loader asks a reload's refusals about it (LoadOptions.refuse). */
type Loaded = Parameters<NonNullable<LoadOptions['refuse']>>[0];

/**
 * Loads `configFile` with the development fallbacks `regauth serve` has: a config that names no
 * signing key signs with the development key in `dataDir` (created on first start), and
 * `token.refresh` without `secret_file` uses a development secret beside it. Each creation is a
 * warning, for production configs name their own.
 */
export function serviceLoader(configFile: string, dataDir: string, notices: HeldNotices): ServiceLoader {
  let createdDevKey = false;
  /** Made with the development key, removed once a start that listens printed its block. */
  const pendingMarker = resolve(dataDir, PENDING_BLOCK);
  /** Whether the last config loaded named its signing key (undefined before the first load). */
  let namedKey: boolean | undefined;
  /**
   * A reload never moves signing from token.key to the TLS listener's server.key, which signs
   * when token.key is not set: a TLS config cut short inside `token:` loads as such, and would
   * sign with a key the registry never held. Judged on the config as loaded (not a read of the
   * file before), and only when the key file changes: `token.key` naming the same file as
   * `server.key` may go.
   */
  const keepSigningKeySource = (loaded: Loaded, running: Config | undefined): ConfigError[] =>
    running?.token.keySource === 'token.key' &&
    loaded.key?.keySource === 'server.key' &&
    loaded.key.keyPath !== running.token.keyPath
      ? [
          new ConfigError(
            'token.key',
            'no longer set; the running config signs with token.key, and a reload never moves to signing with server.key (the registry does not trust it): set token.key and token.certificate again, or restart regauth to sign with server.key',
          ),
        ]
      : [];
  /**
   * A reload's config serves no `users:` account without a password (but one written bare, `{}`)
   * that `running` does not serve so: a file cut short between an account's labels and its
   * password (a writer that stalls, `>>` in steps) loads as an account that takes any password.
   */
  const keepPasswords = (loaded: Loaded, running: Config | undefined): ConfigError[] => {
    if (running === undefined) return [];
    const open = (users: Config['users'], name: string) => {
      const user = users?.get(name);
      return user !== undefined && user.passwordHash === undefined;
    };
    // Written bare (`{}`), an account is no file cut short: a cut leaves `name:` (null, refused)
    // or some of its keys.
    return [...(loaded.users ?? [])]
      .filter(([name, user]) => user.bare !== true && open(loaded.users, name) && !open(running.users, name))
      .map(
        ([name]) =>
          new ConfigError(
            formatPath(['users', name, 'password']),
            `not set; a reload never serves an account without a password that the running config does not serve so, unless written as {} (a file cut short between its labels and its password reads so): give it one, or restart regauth to serve ${quoteAccount(name)} without one`,
          ),
      );
  };
  /** Both refusals above, asked by the loader before it makes any development file. */
  const refusals =
    (running: Config | undefined) =>
    (loaded: Loaded): readonly ConfigError[] => [
      ...keepPasswords(loaded, running),
      ...keepSigningKeySource(loaded, running),
    ];
  const devRefreshSecret = () => {
    const path = resolve(dataDir, 'refresh.key');
    const secret = writingDevFile(
      'token.refresh.secret_file',
      path,
      'refresh-token secret',
      'set token.refresh.secret_file',
      () => ensureRefreshSecret(path),
    );
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
  /**
   * A reload never moves refresh tokens from the secret the running config names to the
   * development one: a config cut short inside `token.refresh:` (`refresh:` alone reads as
   * enabled with the defaults) loads as such, and every refresh token out would be refused at
   * once. The refusal comes before the development secret is made.
   */
  const refreshSecretFor = (running: Config | undefined): (() => string) => {
    const refresh = running?.token.refresh;
    if (refresh === undefined || refresh.secretStandsIn === true) return devRefreshSecret;
    return () => {
      throw new ConfigError(
        'token.refresh.secret_file',
        'no longer set; the running config names a refresh-token secret, and a reload never moves to the development secret (every refresh token out would be refused): set token.refresh.secret_file again, or restart regauth to use the development secret',
      );
    };
  };
  return {
    get createdDevKey() {
      return createdDevKey;
    },
    get blockPending() {
      return namedKey === false && (createdDevKey || existsSync(pendingMarker));
    },
    blockShown() {
      try {
        rmSync(pendingMarker, { force: true });
      } catch {
        // A data directory this start cannot write: the block shows again next time.
      }
    },
    async load(running) {
      if (namedFiles(configFile).namesKey) {
        const config = loadConfigFile(configFile, {
          devRefreshSecret: refreshSecretFor(running),
          refuse: refusals(running),
        });
        namedKey = true;
        return config;
      }
      // A running server whose config named its key never moves to the development key: the
      // registry does not trust it, and a file cut short (a writer that stalls, SIGHUP mid-write)
      // would otherwise load as such a config.
      if (namedKey === true) {
        throw new ConfigErrors(
          [
            new ConfigError(
              'token.key',
              'no longer set; the running config names a signing key, and a reload never moves to the development key (the registry does not trust it): set token.key and token.certificate again, or restart regauth to use the development key',
            ),
          ],
          configFile,
        );
      }
      // Made in memory when missing; the loader writes it only once the rest of the config loaded.
      const write = await pendingDevKeys(dataDir);
      const files = devKeyFiles(dataDir);
      const create = () => {
        const wrote = writingDevFile(
          'token.key',
          files.keyPath,
          'key',
          'set token.key and token.certificate',
          () => write?.(),
        );
        if (!wrote) return;
        createdDevKey = true;
        try {
          // 'wx': never written through a symlink planted there (nor over a marker already there).
          writeFileSync(pendingMarker, '', { mode: 0o600, flag: 'wx' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        notices.notify((l) =>
          l.warn(
            { key: files.keyPath, certificate: files.certificatePath },
            'created a development signing key; set token.key and token.certificate for production',
          ),
        );
      };
      const config = loadConfigFile(configFile, {
        devKey: { ...files, create },
        devRefreshSecret: refreshSecretFor(running),
        refuse: refusals(running),
      });
      namedKey = false;
      return config;
    },
  };
}

/** Where the symbolic link at `path` leads, or undefined when `path` is no link. */
function linkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a development file into the data directory; a directory this user may not write (the
 * image's /app/data run as another uid, a root-owned mount) is the config error of the setting
 * that would have named a file instead (`yamlPath`), saying where and what to do, not a bare
 * `EACCES … open`.
 */
function writingDevFile<T>(yamlPath: string, path: string, what: string, instead: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (!isSystemError(err)) throw err;
    // A file where the data directory (or one of its parents) should be: `--data-dir config.yml`,
    // or a file left where a volume was to be mounted. No permission would help.
    if (err.syscall === 'mkdir' && (err.code === 'EEXIST' || err.code === 'ENOTDIR')) {
      // EEXIST names the path in the way; ENOTDIR one below a file somewhere above it.
      const taken = err.code === 'EEXIST' ? err.path : undefined;
      // A link to a directory that is not there (a volume not mounted) is no file in the way.
      const leadsTo = taken === undefined ? undefined : linkTarget(taken);
      const where = taken ?? `a part of ${dirname(path)}`;
      throw new ConfigError(
        yamlPath,
        leadsTo !== undefined
          ? `not set, and the development ${what} cannot be written to ${path}: ${where} is a link to ${leadsTo}, which does not exist: make (or mount) that directory, start with another --data-dir, or ${instead}`
          : `not set, and the development ${what} cannot be written to ${path}: ${where} is a file, not a directory (--data-dir must name a directory): start with another --data-dir, or ${instead}`,
        { cause: err },
      );
    }
    const uid = process.geteuid?.();
    throw new ConfigError(
      yamlPath,
      `not set, and the development ${what} cannot be written to ${path} (${err.code ?? 'EIO'}): make its directory writable for this user${uid === undefined ? '' : ` (uid ${uid})`}, start with another --data-dir, or ${instead}`,
      { cause: err },
    );
  }
}
