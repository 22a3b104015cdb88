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

  /**
   * Reads every page of the registry's catalog. Registry 2.8 walks its storage in byte order, so
   * a repository comes after its children whose names start with a digit (`p/0a` before `p`),
   * while its `last` compares names component by component (`p` before `p/0a`). A page ending in
   * such a child can then come without a `Link` though more follow, or with one whose `last`
   * skips the parent. So a full page is read on from its last name, Link or not, and each parent
   * the walk may have left behind (deferredParents) is asked for once more, from the last name
   * read before it.
   */
  async #read(now: number): Promise<FullCatalog> {
    const token = await this.#ownToken(now);
    const signal = AbortSignal.timeout(this.#config.timeout * 1000);
    const seen = new Set<string>();
    const pending = new Set<string>();
    let size: number | undefined = UPSTREAM_PAGE;
    let pages = 0;
    /** One page after `last`: its names in the registry's order, and whether it says more follow. */
    const page = async (last: string): Promise<{ names: string[]; more: boolean }> => {
      for (;;) {
        if (++pages > MAX_UPSTREAM_PAGES) throw new Error('the registry sent too many catalog pages');
        const url = new URL(`${this.#config.registryUrl}/v2/_catalog`);
        if (size === UPSTREAM_PAGE) url.searchParams.set('n', String(UPSTREAM_PAGE));
        if (last !== '') url.searchParams.set('last', last);
        const res: Response = await this.#fetch(url, {
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
          redirect: 'error',
          signal,
        });
        if (res.status === 400 && pages === 1 && size === UPSTREAM_PAGE) {
          // Its catalog.maxentries is below our page: without `n` it picks a page it allows.
          await res.body?.cancel();
          size = undefined;
          pages = 0;
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
        const names = body.repositories as string[];
        // The size of its page, when it chose it: its first page (full, or the whole catalog).
        size ??= names.length;
        // One by one: spread into push, a page of some 120,000 names overflows the stack.
        for (const name of names) seen.add(name);
        return { names, more: nextPage(res.headers.get('link'), url) };
      }
    };
    const leftBehind = (names: readonly string[], last: string) => {
      for (const parent of deferredParents(names.at(-1) ?? '')) {
        if (!seen.has(parent) && lessPath(last, parent)) pending.add(parent);
      }
    };
    try {
      for (let last = ''; ;) {
        const { names, more } = await page(last);
        leftBehind(names, last);
        const end = names.at(-1);
        // The end, or a registry that does not move on from `last`.
        if (end === undefined || !lessPath(last, end)) break;
        if (!more && names.length < (size ?? 0)) break;
        last = end;
      }
      // Once each: the walk differs from `last`'s order only there, so the page a second look
      // brings ends where the first looks read on from (what it ends on adds nothing to ask for).
      // Each from the last name the main pages read before it: what a look adds before a parent
      // is another parent above it, listed after it anyway.
      const read = [...seen].sort(compareRepositories);
      for (const parent of pending) {
        if (!seen.has(parent)) await page(lastBefore(read, parent));
      }
    } catch (err) {
      throw unavailable(err);
    }
    const repositories = [...seen].sort(compareRepositories);
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

/**
 * Whether a `Link` header says another page follows (`rel="next"`). Only ever the registry's own
 * catalog: a Link elsewhere is an error (the next page is asked for at the registry's own URL).
 */
function nextPage(link: string | null, current: URL): boolean {
  if (!link) return false;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(link);
  if (!m) return false;
  const next = new URL(m[1]!, current);
  if (next.origin !== current.origin || next.pathname !== current.pathname) {
    throw new Error('the registry sent a Link to another place');
  }
  return true;
}

/**
 * The parents of `name` that registry 2.8's walk reaches only after it: each whose next
 * component in `name` starts with a digit (`p` and `p/0a` for `p/0a/1b`; a digit sorts before
 * the `_layers` directory that makes `p` a repository).
 */
function deferredParents(name: string): string[] {
  const parents: string[] = [];
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    const c = name.charCodeAt(i + 1);
    if (c >= 0x30 && c <= 0x39) parents.push(name.slice(0, i));
  }
  return parents;
}

/** The registry's order of `last` (Go's lessPath): component by component, `/` first. */
function lessPath(a: string, b: string): boolean {
  return compareRepositories(a, b) < 0;
}

/** The greatest of `sorted` (in the registry's order) before `name`, or '' (the first page). */
function lastBefore(sorted: readonly string[], name: string): string {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lessPath(sorted[mid]!, name)) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? '' : sorted[lo - 1]!;
}
