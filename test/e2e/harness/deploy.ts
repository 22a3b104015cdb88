import { copyFileSync, cpSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect, isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { runCommand, startProcess, type ProcessHandle } from './proc.js';
import { registryPlace, serveRegistry, type RegistryProcess } from './registry.js';

/** The repository root (where package.json, Dockerfile, examples/ and compose/ live). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/**
 * The Docker build context: what `.dockerignore` lets through. It ignores everything (`*`) and
 * lists the exceptions (`!path`), so the context is exactly those paths.
 */
export function dockerBuildContext(): string[] {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
  return lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
}

/**
 * Rebuilds, without Docker, the tree the Dockerfile puts in /app. Like its build stage: the build
 * context (see {@link dockerBuildContext}) copied into a staging directory, built and packed there
 * (`npm pack` builds through the `prepare` script; the repository's node_modules stand in for the
 * stage's `npm ci`, and the repository's own dist/ is left alone). Like its runtime stage: the
 * tarball unpacked into `dir/app` with the lockfile, then `npm ci --omit=dev --ignore-scripts`.
 * Returns the path of the CLI (`dist/cli/main.js`, the image's `regauth`). Throws with npm's
 * output when a step fails.
 */
export async function installPackage(dir: string): Promise<{ appDir: string; cli: string }> {
  const stageDir = join(dir, 'stage');
  const packDir = join(dir, 'pack');
  const appDir = join(dir, 'app');
  for (const d of [stageDir, packDir, appDir]) await mkdir(d, { recursive: true });
  for (const path of dockerBuildContext())
    cpSync(join(REPO_ROOT, path), join(stageDir, path), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(stageDir, 'node_modules'), 'dir');
  const npm = async (args: string[], cwd: string): Promise<string> => {
    const result = await runCommand('npm', [...args, '--no-audit', '--no-fund'], {
      cwd,
      timeoutMs: 180_000,
    });
    if (result.code !== 0) {
      throw new Error(`npm ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    }
    return result.stdout;
  };
  await npm(['pack', '--pack-destination', packDir], stageDir);
  const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${packDir}`);
  const untar = await runCommand(
    'tar',
    ['-xzf', join(packDir, tarball), '-C', appDir, '--strip-components=1'],
    { timeoutMs: 60_000 },
  );
  if (untar.code !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  copyFileSync(join(stageDir, 'package-lock.json'), join(appDir, 'package-lock.json'));
  await npm(['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline'], appDir);
  return { appDir, cli: join(appDir, 'dist', 'cli', 'main.js') };
}

/** A running HAProxy with the given config file and environment. */
export interface Haproxy {
  /** `http://<bind>`, or `https://` with TLS */
  url: string;
  /** `127.0.0.1:<port>`: the registry part of an image reference through HAProxy. */
  host: string;
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts `haproxy -db -f <configPath>` (foreground) listening on 127.0.0.1 through the config's
 * `HAPROXY_BIND` variable, with TLS when `tlsCert` is given (`HAPROXY_TLS_CERT`), and waits until
 * it accepts connections.
 */
export async function startHaproxy(options: {
  configPath: string;
  env: Record<string, string>;
  /** Default: a free port. */
  port?: number;
  /** PEM file with certificate and key. */
  tlsCert?: string;
}): Promise<Haproxy> {
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const url = `${options.tlsCert === undefined ? 'http' : 'https'}://${host}`;
  const proc: ProcessHandle = await startProcess('haproxy', ['-db', '-f', options.configPath], {
    env: {
      // With an IP address in REGAUTH_ADDR, one slot, as docs/deployment.md "HAProxy" says.
      REGAUTH_SLOTS: isIP(options.env['REGAUTH_ADDR']?.replace(/:\d+$/, '') ?? '') ? '1' : undefined,
      ...options.env,
      HAPROXY_BIND: host,
      HAPROXY_TLS_CERT: options.tlsCert,
    },
    name: 'haproxy',
    timeoutMs: 15_000,
    readyWhen: () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      }),
  });
  return { url, host, port, logs: () => proc.logs(), stop: async () => void (await proc.stop()) };
}

/** A `docker-registry serve` started from a config file as shipped, with a few keys overridden. */
export type FileRegistry = RegistryProcess;

/**
 * Starts Debian's `docker-registry` (the code in `registry:2`) with `configPath` unchanged,
 * overriding through the registry's own `REGISTRY_<PATH>` variables only what differs outside a
 * container: the listen address, the storage directory, the realm and the rootcertbundle path.
 * Waits until `GET /v2/` answers with a Bearer challenge.
 */
export async function startRegistryFromFile(options: {
  configPath: string;
  realm: string;
  rootCertBundlePath: string;
}): Promise<FileRegistry> {
  const { dir, host } = await registryPlace();
  return serveRegistry({
    dir,
    host,
    configPath: options.configPath,
    env: {
      REGISTRY_HTTP_ADDR: host,
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'),
      REGISTRY_AUTH_TOKEN_REALM: options.realm,
      REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE: options.rootCertBundlePath,
    },
  });
}
