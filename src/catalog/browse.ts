import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Parser from 'stream-json/Parser.js';
import Pick from 'stream-json/filters/Pick.js';
import type { CatalogConfig } from './config.js';
import { CatalogError, unavailable } from './errors.js';
import { bodyAtMost, readAtMost } from '../core/fetch.js';

/** The most tags one repository page lists. */
export const MAX_TAGS = 1000;

/** What the registry page shows of one tag (docs/catalog.md "The registry page"). */
export interface TagDetails {
  readonly digest: string;
  readonly mediaType: string;
  /** Bytes: the manifest's config and layers, or for an index the manifests it lists. */
  readonly size: number;
  /** `os/architecture[/variant]` of each image. */
  readonly platforms: readonly string[];
  /** The image config's `created`, when it has one (not for an index). */
  readonly created: string | undefined;
  /** The image config's labels (not for an index). */
  readonly labels: Readonly<Record<string, string>>;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** The largest manifest or config read: the registry's own limit for a manifest is 4 MiB. */
const MAX_DOCUMENT = 4 * 1024 * 1024;

/**
 * The largest tag list read. Registry 2.8 ignores `n` on tags/list and sends every tag, unsorted
 * (100,000 commit-named tags are about 4.5 MB): the list is read as a stream, keeping only the
 * MAX_TAGS first names, so its size costs time, not memory; past this it is refused.
 */
const MAX_TAG_LIST = 64 * 1024 * 1024;

/**
 * Reads a repository's tags and a tag's manifest and config from the registry, with a token
 * regauth issued for the user (`repository:<name>:pull`): the registry enforces the same access.
 */
export class RegistryBrowser {
  readonly #config: CatalogConfig;
  readonly #fetch: typeof fetch;

  constructor(config: CatalogConfig, fetchImpl: typeof fetch = fetch) {
    this.#config = config;
    this.#fetch = fetchImpl;
  }

  /** Up to {@link MAX_TAGS} tags, sorted. Throws CatalogError 404 (no such repository), 503. */
  async tags(token: string, repository: string): Promise<string[]> {
    const path = `/v2/${repository}/tags/list?n=${MAX_TAGS}`;
    try {
      return await firstTags(await this.#get(token, path, 'application/json', 'NAME_UNKNOWN'), MAX_TAGS);
    } catch (err) {
      if (err instanceof CatalogError) throw err;
      throw unavailable(err);
    }
  }

  /** Throws CatalogError 404 (no such tag), 503. */
  async describe(token: string, repository: string, tag: string): Promise<TagDetails> {
    const { body, digest, mediaType } = await this.#document(
      token,
      `/v2/${repository}/manifests/${tag}`,
      MANIFEST_TYPES.join(', '),
      'MANIFEST_UNKNOWN',
    );
    const manifest = parse(body) as {
      mediaType?: string;
      manifests?: { size?: number; platform?: { os?: string; architecture?: string; variant?: string } }[];
      config?: { digest?: string; size?: number };
      layers?: { size?: number }[];
    };
    // What is read below as lists of objects and a string, checked: nonsense is the registry
    // failing to answer (503), not a TypeError (500).
    const listOfObjects = (v: unknown) => v === undefined || (Array.isArray(v) && v.every(isObject));
    if (
      !listOfObjects(manifest.manifests) ||
      !listOfObjects(manifest.layers) ||
      !(manifest.mediaType === undefined || typeof manifest.mediaType === 'string') ||
      !(manifest.config === undefined || isObject(manifest.config))
    ) {
      throw unavailable(new Error('the registry sent a malformed manifest'));
    }
    const type = manifest.mediaType ?? mediaType;
    if (Array.isArray(manifest.manifests)) {
      return {
        digest,
        mediaType: type,
        size: sum(manifest.manifests.map((m) => m.size)),
        platforms: manifest.manifests
          .map((m) => platformOf(m.platform?.os, m.platform?.architecture, m.platform?.variant))
          .filter((p) => p !== ''),
        created: undefined,
        labels: {},
      };
    }
    const configDigest = manifest.config?.digest;
    let config: {
      created?: unknown;
      os?: unknown;
      architecture?: unknown;
      variant?: unknown;
      config?: { Labels?: unknown };
    } = {};
    if (typeof configDigest === 'string' && /^sha256:[a-f0-9]{64}$/.test(configDigest)) {
      const blob = await this.#document(
        token,
        `/v2/${repository}/blobs/${configDigest}`,
        '*/*',
        'BLOB_UNKNOWN',
      );
      config = parse(blob.body) as typeof config;
    }
    const raw = config.config?.Labels;
    // Made with fromEntries, which defines each key: assigned, a label named __proto__ would set
    // the object's prototype instead and vanish.
    const labels: Record<string, string> =
      raw && typeof raw === 'object' && !Array.isArray(raw)
        ? Object.fromEntries(
            Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'),
          )
        : {};
    return {
      digest,
      mediaType: type,
      size: sum([manifest.config?.size, ...(manifest.layers ?? []).map((l) => l.size)]),
      platforms: [platformOf(config.os, config.architecture, config.variant)].filter((p) => p !== ''),
      created: typeof config.created === 'string' ? config.created : undefined,
      labels,
    };
  }

  async #json(token: string, path: string, notFound: string): Promise<unknown> {
    return parse((await this.#document(token, path, 'application/json', notFound)).body);
  }

  async #document(
    token: string,
    path: string,
    accept: string,
    notFound: string,
  ): Promise<{ body: Buffer; digest: string; mediaType: string }> {
    let res: Response;
    let body: Buffer;
    try {
      res = await this.#get(token, path, accept, notFound);
      body = await readAtMost(res, MAX_DOCUMENT);
    } catch (err) {
      if (err instanceof CatalogError) throw err;
      throw unavailable(err);
    }
    const digest =
      res.headers.get('docker-content-digest') ?? `sha256:${createHash('sha256').update(body).digest('hex')}`;
    return { body, digest, mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim() };
  }

  /**
   * GET `path` from the registry, its body not read yet (the config's timeout bounds the reading
   * too). Throws CatalogError 404 (`notFound`) for what the token may not see or is not there, and
   * an Error for any other answer but a 2xx.
   */
  async #get(token: string, path: string, accept: string, notFound: string): Promise<Response> {
    const res = await this.#fetch(`${this.#config.registryUrl}${path}`, {
      headers: { Authorization: `Bearer ${token}`, Accept: accept },
      signal: AbortSignal.timeout(this.#config.timeout * 1000),
    });
    if (res.status === 404 || res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new CatalogError(404, notFound, 'not found');
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`the registry answered ${res.status} to GET ${path}`);
    }
    return res;
  }
}

/**
 * The `max` first names (sorted) of a tags/list answer's `tags` array, read as a stream of JSON
 * tokens: whatever the list's length, only those names are kept. Values in the array that are no
 * string are skipped, and a `tags` that is no array (null for a repository without tags) is an
 * empty list. Throws on JSON that does not parse and past MAX_TAG_LIST bytes.
 */
async function firstTags(res: Response, max: number): Promise<string[]> {
  const kept: string[] = [];
  await pipeline(
    Readable.from(bodyAtMost(res, MAX_TAG_LIST)),
    new Parser({ streamValues: false }),
    new Pick({ filter: 'tags' }),
    async (tokens: AsyncIterable<{ name: string; value?: unknown }>) => {
      let depth = 0;
      let isArray = false;
      for await (const token of tokens) {
        if (token.name === 'startArray' || token.name === 'startObject') {
          if (depth++ === 0) isArray = token.name === 'startArray';
        } else if (token.name === 'endArray' || token.name === 'endObject') {
          depth--;
        } else if (token.name === 'stringValue' && depth === 1 && isArray) {
          keepFirst(kept, token.value as string, max);
        }
      }
    },
  );
  return kept;
}

/** Inserts `name` into the sorted `kept`, which holds at most `max` names: the first ones. */
function keepFirst(kept: string[], name: string, max: number): void {
  if (kept.length === max && name >= kept[max - 1]!) return;
  let lo = 0;
  let hi = kept.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (kept[mid]! < name) lo = mid + 1;
    else hi = mid;
  }
  kept.splice(lo, 0, name);
  if (kept.length > max) kept.pop();
}

function parse(body: Buffer): unknown {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value !== null && typeof value === 'object' ? value : {};
  } catch (err) {
    throw unavailable(err);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function sum(values: readonly unknown[]): number {
  return values.reduce<number>((n, v) => n + (typeof v === 'number' && Number.isFinite(v) ? v : 0), 0);
}

function platformOf(os: unknown, arch: unknown, variant: unknown): string {
  if (typeof os !== 'string' || typeof arch !== 'string') return '';
  return typeof variant === 'string' && variant !== '' ? `${os}/${arch}/${variant}` : `${os}/${arch}`;
}
