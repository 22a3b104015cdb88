import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { freePort } from './ports.js';
import { startProcess } from './proc.js';
import type { ProcessHandle } from './proc.js';

export interface RegistryOptions {
  /** `auth.token.realm`: where clients fetch tokens; it goes in the challenge. */
  realm: string;
  /** `auth.token.service`: the challenge `service`, and the `aud` a token must carry. */
  service: string;
  /** `auth.token.issuer`: the `iss` a token must carry. */
  issuer: string;
  /** `auth.token.rootcertbundle`: PEM certificates the registry trusts for token signatures. */
  rootCertBundlePath: string;
  /** `storage.delete.enabled`; without it manifest DELETE answers 405 UNSUPPORTED. */
  deleteEnabled?: boolean;
  /** How long the registry may take to answer its first challenge. Default 15000. */
  timeoutMs?: number;
}

/** A running `docker-registry serve` with its own storage in a temp dir. */
export interface RegistryProcess {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** `127.0.0.1:<port>`: the registry part of an image reference. */
  host: string;
  /** Stops the registry and deletes its temp dir. Safe to call more than once. */
  stop(): Promise<void>;
  /** The registry's log so far (it logs to stderr). */
  logs(): string;
}

/** A registry started by {@link startRegistry}, from a config it generated. */
export interface Registry extends RegistryProcess {
  port: number;
  /** The generated config.yml, for reading when a test fails. */
  configPath: string;
}

/** A parsed `WWW-Authenticate` reply. */
export interface Challenge {
  status: number;
  /** The header exactly as sent. */
  header: string;
  /** `Bearer`, as written by the server. */
  scheme: string;
  /** `realm`, `service`, and when present `scope` and `error`, unquoted. */
  params: Record<string, string>;
}

/**
 * Starts the CNCF distribution registry (Debian's `docker-registry`, 2.8.x) with token auth
 * (docs/registry-compatibility.md "The registry's config") on a free port of 127.0.0.1, and waits
 * until `GET /v2/` answers 401 with a Bearer challenge.
 */
export async function startRegistry(options: RegistryOptions): Promise<Registry> {
  // freePort() can race with another test file taking the same port: try a few ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRegistryOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
}

async function startRegistryOnce(options: RegistryOptions): Promise<Registry> {
  const { dir, port, host } = await registryPlace();
  const configPath = join(dir, 'config.yml');
  const config = {
    version: '0.1',
    log: { level: 'info', formatter: 'text' },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: options.deleteEnabled ?? false },
      // The purge job only adds log noise in a registry that lives for seconds.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: host, secret: randomBytes(16).toString('hex') },
    auth: {
      token: {
        realm: options.realm,
        service: options.service,
        issuer: options.issuer,
        rootcertbundle: options.rootCertBundlePath,
      },
    },
  };
  await writeFile(configPath, dump(config));
  const served = await serveRegistry({ dir, host, configPath, timeoutMs: options.timeoutMs });
  return { ...served, port, configPath };
}

/** A fresh temp dir for a registry's config and storage, and a free port of 127.0.0.1 to listen on. */
export async function registryPlace(): Promise<{ dir: string; port: number; host: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'regauth-registry-'));
  const port = await freePort();
  return { dir, port, host: `127.0.0.1:${port}` };
}

/**
 * Runs `docker-registry serve <configPath>` and waits until `GET http://<host>/v2/` answers 401
 * with a Bearer challenge. `env` holds config overrides (`REGISTRY_<PATH>` variables); those
 * inherited from the environment are dropped. `dir` (from {@link registryPlace}) is removed by
 * stop(), or at once when the registry does not start.
 */
export async function serveRegistry(options: {
  dir: string;
  host: string;
  configPath: string;
  env?: Record<string, string>;
  /** How long the registry may take to answer its first challenge. Default 15000. */
  timeoutMs?: number;
}): Promise<RegistryProcess> {
  const url = `http://${options.host}`;
  // The registry reads REGISTRY_<PATH> variables as config overrides. One inherited from the
  // developer's shell breaks it: podman's REGISTRY_AUTH_FILE is read as `auth.file` and the
  // registry refuses to start ("cannot unmarshal !!str into configuration.Parameters").
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('REGISTRY_')) env[key] = undefined;
  Object.assign(env, options.env);

  let proc: ProcessHandle;
  try {
    proc = await startProcess('docker-registry', ['serve', options.configPath], {
      env,
      name: 'docker-registry',
      timeoutMs: options.timeoutMs ?? 15_000,
      readyWhen: async () => {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        return res.status === 401 && /^Bearer /i.test(res.headers.get('www-authenticate') ?? '');
      },
    });
  } catch (err) {
    await rm(options.dir, { recursive: true, force: true });
    throw err;
  }

  const running = proc;
  let stopped: Promise<void> | undefined;
  return {
    url,
    host: options.host,
    logs: () => running.logs(),
    stop: () =>
      (stopped ??= (async () => {
        await running.stop();
        await rm(options.dir, { recursive: true, force: true });
      })()),
  };
}

/**
 * Sends an unauthenticated (or, with `init.headers`, authenticated) request to `url + path` and
 * parses the `WWW-Authenticate` header of the reply. Throws when the reply has none.
 */
export async function registryChallenge(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<Challenge> {
  const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
  await res.body?.cancel();
  const header = res.headers.get('www-authenticate');
  if (header === null) {
    throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status} without WWW-Authenticate`);
  }
  return { status: res.status, header, ...parseChallenge(header) };
}

/**
 * Parses one challenge, `Scheme k="v",k=v`. Quoted values may hold `\"` and `\\` escapes (the
 * registry writes them with Go's %q). Throws on anything else.
 */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const head = /^([A-Za-z][\w-]*)(?:\s+|$)/.exec(header);
  if (!head) throw new Error(`malformed WWW-Authenticate: ${header}`);
  const params: Record<string, string> = {};
  const param = /\s*([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(,|$)/y;
  param.lastIndex = head[0].length;
  while (param.lastIndex < header.length) {
    const m = param.exec(header);
    if (!m) throw new Error(`malformed WWW-Authenticate at offset ${param.lastIndex}: ${header}`);
    const [, key, quoted, token] = m;
    params[key!.toLowerCase()] = quoted === undefined ? token! : quoted.replace(/\\(.)/g, '$1');
  }
  return { scheme: head[1]!, params };
}
