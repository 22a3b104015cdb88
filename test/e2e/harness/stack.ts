import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { startService, type Service, type ServiceOptions } from '../../../src/service/service.js';
import type { SigningAlg } from '../../../src/token/types.js';
import { tempDir, writeSigningKey } from '../../helpers/fixtures.js';
import { startRegistry, type Registry } from './registry.js';
import { logSink } from '../../helpers/server.js';
import { REPO_ROOT } from './deploy.js';
import { startProcess, type ProcessHandle, type StartOptions } from './proc.js';

/** The registry's `auth.token.service`: the `service` of token requests and the `aud` of tokens. */
export const SERVICE = 'registry.test';

/** A temporary directory, as {@link tempDir} makes it. */
export type TempDir = ReturnType<typeof tempDir>;

/** A log destination that keeps what is written to it (one JSON line a chunk). */
export { logSink };

/**
 * The built regauth (`dist/cli/main.js serve -c configFile`; see ensureBuilt) as a process of its
 * own, started once `url` + `ready` (default `/healthz`; `/readyz` also waits for the store and
 * the backends) answers 200. `timeoutMs` defaults to 30 s.
 */
export function startRegauthProcess(
  configFile: string,
  url: string,
  options: Omit<StartOptions, 'readyWhen' | 'timeoutMs'> & {
    ready?: '/healthz' | '/readyz';
    timeoutMs?: number;
  } = {},
): Promise<ProcessHandle> {
  const { ready = '/healthz', timeoutMs = 30_000, ...rest } = options;
  return startProcess(process.execPath, [join(REPO_ROOT, 'dist/cli/main.js'), 'serve', '-c', configFile], {
    name: 'regauth',
    ...rest,
    timeoutMs,
    readyWhen: async () => (await fetch(`${url}${ready}`, { signal: AbortSignal.timeout(2000) })).ok,
  });
}

/**
 * What a suite writes of regauth's config.yml. The stack writes the header itself: `server.addr`
 * and `token.issuer`, `token.key`, `token.certificate`.
 */
export interface StackConfig {
  /** The YAML after the `server:`/`token:` header: users, acl, backends, lockout, … */
  config: string;
  /** More lines inside `server:`, indented two spaces (`  trusted_proxies: [127.0.0.1]`). */
  server?: string;
  /** More lines inside `token:`, indented two spaces (`  expiration: 300`, `  refresh: …`). */
  token?: string;
}

export interface RegauthOptions extends StackConfig {
  /** Names the temp dir (`regauth-<name>-e2e-…`) and the default issuer (`regauth <name> e2e`). */
  name: string;
  /** `token.issuer`; default `regauth <name> e2e`. */
  issuer?: string;
  /** `server.addr`; default `127.0.0.1:0` (any free port). */
  addr?: string;
  /** The algorithm of the fresh signing key; default ES256. */
  alg?: SigningAlg;
  /**
   * A signing key and certificate made elsewhere (`regauth keys init`), instead of a fresh one;
   * `bundlePath` is what the registry trusts (default: the certificate).
   */
  keys?: { keyPath: string; certPath: string; bundlePath?: string };
  /**
   * A temp dir the caller made, to put files in before regauth starts (secrets, a directory
   * server); the caller also removes it. Without it the stack makes one, and stop() removes it.
   */
  tmp?: TempDir;
  /** More options for `startService` (a clock, runtime dependencies, no file watching). */
  serviceOptions?: Pick<ServiceOptions, 'now' | 'runtimeDeps' | 'watch'>;
}

/** regauth running in-process from a config file in a temp dir, its log kept in `logs`. */
export interface RegauthStack {
  tmp: TempDir;
  regauth: Service;
  /** Every log line regauth wrote so far (JSON). */
  logs: string[];
  /** `<tmp>/config.yml`. */
  configFile: string;
  keyPath: string;
  certPath: string;
  /** What the registry trusts for token signatures: the certificate, or the `keys.bundlePath` given. */
  bundlePath: string;
  issuer: string;
  /** The config text for `change` over what the stack was started with (same header). */
  configText(change: Partial<StackConfig>): string;
  /** Writes `configText(change)` to the config file; `regauth.reload()` (or the watcher) applies it. */
  writeConfig(change: Partial<StackConfig>): void;
  /** Closes regauth, then removes the temp dir if the stack made it. Safe to call more than once. */
  stop(): Promise<void>;
}

/** regauth as above and docker-registry trusting its certificate, realm `<regauth>/auth`. */
export interface Stack extends RegauthStack {
  registry: Registry;
  /** The registry's `auth.token.service`. */
  service: string;
}

/**
 * Writes a signing key (or takes `options.keys`) and config.yml into a temp dir, and starts regauth
 * from that file with its log collected. When regauth does not start, removes a temp dir it made.
 */
export async function startRegauth(options: RegauthOptions): Promise<RegauthStack> {
  const tmp = options.tmp ?? tempDir(`regauth-${options.name}-e2e-`);
  const cleanup = options.tmp === undefined ? tmp.cleanup : () => {};
  try {
    const { keyPath, certPath } = options.keys ?? (await writeSigningKey(tmp.dir, options.alg ?? 'ES256'));
    const bundlePath = options.keys?.bundlePath ?? certPath;
    const issuer = options.issuer ?? `regauth ${options.name} e2e`;
    const addr = options.addr ?? '127.0.0.1:0';
    const configText = (change: Partial<StackConfig>): string => {
      const { server, token, config } = {
        server: options.server,
        token: options.token,
        config: options.config,
        ...change,
      };
      return [
        'server:',
        `  addr: "${addr}"`,
        ...(server === undefined ? [] : [server]),
        'token:',
        `  issuer: "${issuer}"`,
        `  key: ${keyPath}`,
        `  certificate: ${certPath}`,
        ...(token === undefined ? [] : [token]),
        config,
      ].join('\n');
    };
    const configFile = join(tmp.dir, 'config.yml');
    const writeConfig = (change: Partial<StackConfig>) => writeFileSync(configFile, configText(change));
    writeConfig({});
    const log = logSink();
    const regauth = await startService({
      ...options.serviceOptions,
      configFile,
      logger: createLogger({ destination: log.stream }),
      dataDir: join(tmp.dir, 'data'),
    });
    let stopped: Promise<void> | undefined;
    return {
      tmp,
      regauth,
      logs: log.lines,
      configFile,
      keyPath,
      certPath,
      bundlePath,
      issuer,
      configText,
      writeConfig,
      stop: () =>
        (stopped ??= (async () => {
          await regauth.close(100);
          cleanup();
        })()),
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * {@link startRegauth}, then the real docker-registry with token auth against it: realm
 * `<regauth>/auth`, `service` (default {@link SERVICE}), regauth's issuer, and trust in regauth's
 * certificate (or `keys.bundlePath`). stop() stops the registry, then regauth.
 */
export async function startStack(
  options: RegauthOptions & {
    /** The registry's `auth.token.service`; default {@link SERVICE}. */
    service?: string;
    /** The registry's `storage.delete.enabled`, for tests that delete images. */
    deleteEnabled?: boolean;
  },
): Promise<Stack> {
  const stack = await startRegauth(options);
  const service = options.service ?? SERVICE;
  let registry: Registry;
  try {
    registry = await startRegistry({
      realm: `${stack.regauth.url}/auth`,
      service,
      issuer: stack.issuer,
      rootCertBundlePath: stack.bundlePath,
      deleteEnabled: options.deleteEnabled,
    });
  } catch (err) {
    await stack.stop();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    ...stack,
    registry,
    service,
    stop: () =>
      (stopped ??= (async () => {
        await registry.stop();
        await stack.stop();
      })()),
  };
}
