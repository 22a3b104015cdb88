import type { CatalogConfig } from './config.js';
import type { TokenSigner } from '../token/sign.js';
import { unavailable } from './errors.js';
import { readAtMost } from '../core/fetch.js';
import { compareRepositories } from './pages.js';

/** What regauth asks the registry for per page when it reads the whole catalog. */
const UPSTREAM_PAGE = 1000;
/** A registry that keeps sending `Link` is not followed forever (10 million repositories). */
const MAX_UPSTREAM_PAGES = 10_000;

/** The most read of one page of the registry's catalog: 1,000 names of 255 characters are 260 KB. */
const MAX_UPSTREAM_PAGE_BYTES = 8 * 1024 * 1024;
/** regauth's own token for the registry's catalog lives this long, and is reused for half of it. */
const OWN_TOKEN_SECONDS = 60;
/** The subject of regauth's own token, as the registry logs it. */
export const OWN_TOKEN_SUBJECT = 'regauth-catalog';

/** The registry's full catalog, as regauth last read it. */
export interface FullCatalog {
  /** Every repository, in the registry's order ({@link compareRepositories}). */
  readonly repositories: readonly string[];
  /** Unix milliseconds. */
  readonly fetchedAt: number;
}

/**
 * Reads the registry's whole catalog with a short-lived token regauth signs for itself
 * (`registry:catalog:*` for the registry's service), and keeps it `cache_ttl` seconds, shared
 * by every caller. Concurrent callers while a read runs wait for that one read. A failed read is
 * not kept: the next caller tries again.
 */
export class RegistryCatalog {
  readonly #config: CatalogConfig;
  readonly #sign: TokenSigner;
  readonly #fetch: typeof fetch;
  #cached: FullCatalog | undefined;
  #inflight: Promise<FullCatalog> | undefined;
  #token: { value: string; renewAt: number } | undefined;

  constructor(config: CatalogConfig, sign: TokenSigner, fetchImpl: typeof fetch = fetch) {
    this.#config = config;
    this.#sign = sign;
    this.#fetch = fetchImpl;
  }

  /** `now` in unix milliseconds. Throws CatalogError 503 when the registry cannot be read. */
  async get(now: number): Promise<FullCatalog> {
    const cached = this.#cached;
    if (cached && now - cached.fetchedAt < this.#config.cacheTtl * 1000) return cached;
    this.#inflight ??= this.#read(now).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #read(now: number): Promise<FullCatalog> {
    const token = await this.#ownToken(now);
    const signal = AbortSignal.timeout(this.#config.timeout * 1000);
    const all: string[] = [];
    let url: URL | undefined = new URL(`${this.#config.registryUrl}/v2/_catalog?n=${UPSTREAM_PAGE}`);
    try {
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_UPSTREAM_PAGES) throw new Error('the registry sent too many catalog pages');
        const res: Response = await this.#fetch(url, {
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
          redirect: 'error',
          signal,
        });
        if (res.status === 400 && page === 0 && url.searchParams.has('n')) {
          // Its catalog.maxentries is below our page: without `n` it picks a page it allows.
          await res.body?.cancel();
          url = new URL(`${this.#config.registryUrl}/v2/_catalog`);
          page = -1;
          continue;
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new Error(`the registry answered ${res.status} to GET /v2/_catalog`);
        }
        const body = JSON.parse((await readAtMost(res, MAX_UPSTREAM_PAGE_BYTES)).toString('utf8')) as {
          repositories?: unknown;
        };
        if (!Array.isArray(body.repositories) || body.repositories.some((r) => typeof r !== 'string')) {
          throw new Error('the registry sent a catalog without a list of repositories');
        }
        // One by one: spread into push, a page of some 120,000 names overflows the stack.
        for (const name of body.repositories as string[]) all.push(name);
        url = nextPage(res.headers.get('link'), url);
      }
    } catch (err) {
      throw unavailable(err);
    }
    const repositories = [...new Set(all)].sort(compareRepositories);
    const catalog = { repositories, fetchedAt: now };
    this.#cached = catalog;
    return catalog;
  }

  async #ownToken(now: number): Promise<string> {
    if (this.#token && now < this.#token.renewAt) return this.#token.value;
    const seconds = Math.floor(now / 1000);
    const value = await this.#sign(
      {
        subject: OWN_TOKEN_SUBJECT,
        audience: this.#config.registryService,
        access: [{ type: 'registry', name: 'catalog', actions: ['*'] }],
      },
      seconds,
      OWN_TOKEN_SECONDS,
    );
    this.#token = { value, renewAt: now + (OWN_TOKEN_SECONDS / 2) * 1000 };
    return value;
  }
}

/** The `rel="next"` target of a `Link` header, resolved against the page it came with. */
function nextPage(link: string | null, current: URL): URL | undefined {
  if (!link) return undefined;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(link);
  if (!m) return undefined;
  const next = new URL(m[1]!, current);
  // Only ever the registry's own catalog: a Link elsewhere is not followed with our token.
  if (next.origin !== current.origin || next.pathname !== current.pathname) {
    throw new Error('the registry sent a Link to another place');
  }
  return next;
}
