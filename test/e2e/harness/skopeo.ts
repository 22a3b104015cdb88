import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './proc.js';
import type { RunResult } from './proc.js';

/**
 * How skopeo authenticates to the registry:
 * a user and password (`--creds`), an auth.json (`--authfile`, see {@link writeAuthFile}),
 * or a ready-made bearer token (`--registry-token`). Omitted = anonymous (`--no-creds`).
 */
export type Credentials =
  { user: string; password: string } | { authFile: string } | { registryToken: string };

export interface SkopeoOptions {
  /** Kill skopeo after this long. Default 60000. */
  timeoutMs?: number;
  /** Pass `--debug`: skopeo then logs every HTTP exchange (without secrets) to stderr. */
  debug?: boolean;
}

/** skopeo's exit code and output. A non-zero code is a result, not an exception. */
export type SkopeoResult = RunResult;

/**
 * Runs `skopeo --insecure-policy <args>` in a throwaway HOME, so neither the user's auth.json,
 * docker config nor registries.conf can leak into a test. Never throws on a non-zero exit.
 */
export async function skopeo(args: string[], options: SkopeoOptions = {}): Promise<SkopeoResult> {
  const home = await mkdtemp(join(tmpdir(), 'regauth-skopeo-'));
  try {
    const runtime = join(home, 'run');
    await mkdir(runtime, { mode: 0o700 });
    await mkdir(join(home, 'registries.d'));
    const registriesConf = join(home, 'registries.conf');
    await writeFile(registriesConf, '');
    const env: NodeJS.ProcessEnv = {
      HOME: home,
      XDG_RUNTIME_DIR: runtime,
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_DATA_HOME: join(home, 'data'),
      // Default auth file locations, all pointing at files that do not exist. containers/image
      // reads the XDG and docker ones even when --authfile is given.
      REGISTRY_AUTH_FILE: join(home, 'auth.json'),
      DOCKER_CONFIG: join(home, 'docker'),
      TMPDIR: home,
      // As root, containers/image keeps its blob info cache in /var/lib/containers and would
      // remember blobs across tests and runs (and then try cross-repository mounts). Claiming to
      // be a rootless user moves the cache into this throwaway HOME, so every push is the same.
      _CONTAINERS_ROOTLESS_UID: process.geteuid?.() === 0 ? '65534' : undefined,
    };
    const global = [
      '--insecure-policy',
      // Hidden flag; skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF.
      '--registries-conf',
      registriesConf,
      '--registries.d',
      join(home, 'registries.d'),
      '--tmpdir',
      home,
    ];
    if (options.debug) global.push('--debug');
    return await runCommand('skopeo', [...global, ...args], { env, timeoutMs: options.timeoutMs ?? 60_000 });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** The flags for `creds`; `prefix` is '', 'src-' or 'dest-'. */
function credentialFlags(prefix: '' | 'src-' | 'dest-', creds: Credentials | undefined): string[] {
  if (creds === undefined) return [`--${prefix}no-creds`];
  if ('authFile' in creds) return [`--${prefix}authfile`, creds.authFile];
  if ('registryToken' in creds) return [`--${prefix}registry-token`, creds.registryToken];
  // skopeo splits USER:PASSWORD at the first colon, so the user cannot contain one.
  if (creds.user === '' || creds.user.includes(':')) {
    throw new TypeError(`skopeo --creds cannot carry the user name ${JSON.stringify(creds.user)}`);
  }
  return [`--${prefix}creds`, `${creds.user}:${creds.password}`];
}

function dockerRef(registryHost: string, repo: string, tag?: string): string {
  return `docker://${registryHost}/${repo}${tag === undefined ? '' : `:${tag}`}`;
}

/**
 * Copies a local image (`oci:<dir>:<tag>`, see buildOciImage) to `<registryHost>/<repo>:<tag>`
 * over plain HTTP. skopeo asks for `repository:<repo>:pull,push`.
 */
export function push(
  ociRef: string,
  registryHost: string,
  repo: string,
  tag: string,
  creds?: Credentials,
  options?: SkopeoOptions,
): Promise<SkopeoResult> {
  return skopeo(
    [
      'copy',
      '--dest-tls-verify=false',
      ...credentialFlags('dest-', creds),
      ociRef,
      dockerRef(registryHost, repo, tag),
    ],
    options,
  );
}

/** Copies `<registryHost>/<repo>:<tag>` into the OCI layout at `destDir` (all blobs are fetched). */
export function pull(
  registryHost: string,
  repo: string,
  tag: string,
  destDir: string,
  creds?: Credentials,
  options?: SkopeoOptions,
): Promise<SkopeoResult> {
  return skopeo(
    [
      'copy',
      '--src-tls-verify=false',
      ...credentialFlags('src-', creds),
      dockerRef(registryHost, repo, tag),
      `oci:${destDir}:${tag}`,
    ],
    options,
  );
}

/**
 * `skopeo inspect --no-tags`: fetches the manifest and the config blob (pull access). On success
 * `digest` is the manifest digest the registry served.
 */
export async function inspect(
  registryHost: string,
  repo: string,
  tag: string,
  creds?: Credentials,
  options?: SkopeoOptions,
): Promise<SkopeoResult & { digest?: string }> {
  const result = await skopeo(
    [
      'inspect',
      '--tls-verify=false',
      '--no-tags',
      ...credentialFlags('', creds),
      dockerRef(registryHost, repo, tag),
    ],
    options,
  );
  if (result.code !== 0) return result;
  return { ...result, digest: (JSON.parse(result.stdout) as { Digest: string }).Digest };
}

/**
 * `skopeo delete`: resolves the tag and deletes its manifest by digest. containers/image asks for
 * `repository:<repo>:*`, and the registry must run with `deleteEnabled`.
 */
export function deleteImage(
  registryHost: string,
  repo: string,
  tag: string,
  creds?: Credentials,
  options?: SkopeoOptions,
): Promise<SkopeoResult> {
  return skopeo(
    ['delete', '--tls-verify=false', ...credentialFlags('', creds), dockerRef(registryHost, repo, tag)],
    options,
  );
}

/** `skopeo list-tags` (`GET /v2/<repo>/tags/list`, pull access). On success `tags` holds the tags. */
export async function listTags(
  registryHost: string,
  repo: string,
  creds?: Credentials,
  options?: SkopeoOptions,
): Promise<SkopeoResult & { tags?: string[] }> {
  const result = await skopeo(
    ['list-tags', '--tls-verify=false', ...credentialFlags('', creds), dockerRef(registryHost, repo)],
    options,
  );
  if (result.code !== 0) return result;
  return { ...result, tags: (JSON.parse(result.stdout) as { Tags: string[] | null }).Tags ?? [] };
}

/**
 * Writes a containers auth.json for `registryHost`: a user and password, or an identity token
 * (a refresh token; containers/image then uses the POST grant_type=refresh_token flow).
 */
export async function writeAuthFile(
  path: string,
  registryHost: string,
  entry: { user: string; password: string } | { user?: string; identityToken: string },
): Promise<void> {
  const auth =
    'identityToken' in entry
      ? { auth: Buffer.from(`${entry.user ?? ''}:`).toString('base64'), identitytoken: entry.identityToken }
      : { auth: Buffer.from(`${entry.user}:${entry.password}`).toString('base64') };
  await writeFile(path, JSON.stringify({ auths: { [registryHost]: auth } }), { mode: 0o600 });
}
