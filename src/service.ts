import { resolve } from 'node:path';
import { loadConfigFile, namesSigningKey, type Config } from './config/load.js';
import type { Logger } from './log.js';
import { closeRuntime, createRuntime, type Runtime, type RuntimeDeps } from './runtime.js';
import { startServer, type RunningServer } from './http/server.js';
import { ensureDevKeys } from './token/generate.js';
import { ensureRefreshSecret } from './token/refresh.js';

export interface ServiceOptions {
  readonly configFile: string;
  readonly logger: Logger;
  /** Where the development key lives when the config names none (default ./data). */
  readonly dataDir?: string;
  readonly listen?: { host?: string; port: number };
  readonly runtimeDeps?: RuntimeDeps;
  /** Unix time in milliseconds (tests move the clock to expire refresh tokens). */
  readonly now?: () => number;
}

/** A running regauth: the server plus the current runtime, swappable by reload(). */
export interface Service {
  readonly url: string;
  runtime(): Runtime;
  /** Loads the config again; on error keeps the current one and throws. */
  reload(): Promise<void>;
  /** Graceful stop: in-flight requests finish within `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Loads the config (creating the development key if needed), then serves. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { logger } = options;
  const dataDir = resolve(options.dataDir ?? 'data');
  const load = async (): Promise<Config> => {
    const devKey = { keyPath: resolve(dataDir, 'token.key'), certificatePath: resolve(dataDir, 'token.pem') };
    // Only create the development key when the config names no key of its own.
    if (!namesSigningKey(options.configFile)) {
      const created = await ensureDevKeys(dataDir);
      if (created.created)
        logger.warn(
          { key: created.keyPath, certificate: created.certPath },
          'created a development signing key; set token.key and token.certificate for production',
        );
    }
    // `token.refresh` without secret_file: a development secret next to the development key.
    const devRefreshSecret = () => {
      const secret = ensureRefreshSecret(resolve(dataDir, 'refresh.key'));
      if (secret.created)
        logger.warn(
          { secret: secret.path },
          'created a development refresh-token secret; set token.refresh.secret_file for production',
        );
      return secret.path;
    };
    return loadConfigFile(options.configFile, { devKey, devRefreshSecret });
  };

  let current = createRuntime(await load(), options.runtimeDeps);
  const server: RunningServer = await startServer({
    runtime: () => current,
    logger,
    ...(options.listen ? { listen: options.listen } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  logStartup(logger, current.config, server.url);

  return {
    url: server.url,
    runtime: () => current,
    async reload() {
      const next = createRuntime(await load(), options.runtimeDeps);
      const previous = current;
      current = next;
      // Requests that already hold `previous` finish with it; its backends close after a grace period.
      setTimeout(() => void closeRuntime(previous), 30_000).unref();
      logger.info({ config: next.config.file }, 'config reloaded');
    },
    async close(graceMs) {
      await server.close(graceMs);
      await closeRuntime(current);
    },
  };
}

/** Tells the operator how to point the registry at this server (the `auth.token` block to paste). */
function logStartup(logger: Logger, config: Config, url: string): void {
  const service = config.token.services[0] ?? 'registry.example.com';
  const realm = `${url.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1')}${config.server.pathPrefix}/auth`;
  logger.info(
    {
      url,
      kid: config.token.key.kid,
      alg: config.token.key.alg,
      rootcertbundle: config.token.certificatePath,
      registryAuthToken: {
        realm,
        service,
        issuer: config.token.issuer,
        rootcertbundle: config.token.certificatePath,
      },
    },
    `regauth listening on ${url}; registry config: auth.token.rootcertbundle must point to ${config.token.certificatePath}`,
  );
  process.stderr.write(
    [
      '',
      'Paste into the registry config (config.yml); realm must be the URL clients use to reach regauth:',
      'auth:',
      '  token:',
      `    realm: ${realm}`,
      `    service: ${service}`,
      `    issuer: ${JSON.stringify(config.token.issuer)}`,
      `    rootcertbundle: ${config.token.certificatePath}`,
      '',
    ].join('\n') + '\n',
  );
}
