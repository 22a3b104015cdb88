import { LRUCache } from 'lru-cache';
import { authorizeScope } from '../authz/chain.js';
import type { ExtAuthorizer } from '../authz/ext.js';
import type { CompiledAcl } from '../authz/acl.js';
import type { CatalogConfig } from './config.js';
import type { SigningKey } from '../token/types.js';
import { BackendUnavailableError, TooManyRequestsError } from '../core/errors.js';
import { clientKey } from '../core/ip.js';
import { tooManyRequests, unavailable } from './errors.js';
import { parsePageRequest, pageOf } from './pages.js';
import type { FullCatalog, RegistryCatalog } from './registry.js';
import { verifyCatalogToken, type CatalogCaller } from './token.js';

/** What the filtered catalog needs from the current runtime. */
export interface CatalogDeps {
  readonly catalog: CatalogConfig;
  readonly registry: RegistryCatalog;
  readonly acl: CompiledAcl;
  readonly extAuthz: ExtAuthorizer | undefined;
  readonly key: SigningKey;
  readonly issuer: string;
  /** `lockout.ipv6_prefix`: ext_authz's per-client bound counts an IPv6 client by its network. */
  readonly ipv6Prefix: number;
}

/** One request to `GET /v2/_catalog`, as the HTTP layer read it. */
export interface CatalogRequest {
  readonly authorization: string | undefined;
  /** The raw query string, without `?`. */
  readonly query: string;
  readonly ip: string | null;
  /** Unix milliseconds. */
  readonly now: number;
  /** Aborted when the client is gone: an ext_authz run still queued for it is dropped, a running one killed. */
  readonly signal?: AbortSignal;
}

/** One page of the catalog, for the caller. */
export interface CatalogPage {
  readonly caller: CatalogCaller;
  /** True when the caller holds `registry:catalog:*` and sees every repository. */
  readonly full: boolean;
  readonly repositories: readonly string[];
  /** The next page's query, when more repositories follow. */
  readonly next: { readonly n: number; readonly last: string } | undefined;
  /** How many repositories the registry holds and how many the caller may pull (for the log). */
  readonly total: number;
  readonly visible: number;
}

/**
 * `GET /v2/_catalog` answered by regauth (docs/catalog.md): parse (`n`, `last`) → authenticate
 * (a catalog token regauth issued) → authorize (the ACL's `pull` decision per repository, for
 * the registry's service, as the token endpoint decides it) → one page.
 * Throws CatalogError (400, 401, 503: the registry or `ext_authz` cannot answer).
 */
export async function listCatalog(deps: CatalogDeps, request: CatalogRequest): Promise<CatalogPage> {
  const caller = await verifyCatalogToken(
    request.authorization,
    deps.key,
    deps.issuer,
    deps.catalog,
    Math.floor(request.now / 1000),
  );
  return listCatalogFor(deps, caller, request);
}

/**
 * One page of the catalog for a caller regauth authenticated itself (the registry page, which
 * issued the catalog token in process): decided as listCatalog decides it, with no token to read,
 * so the bound on a token sent over HTTP does not apply to an account with many labels.
 */
export async function listCatalogFor(
  deps: CatalogDeps,
  caller: CatalogCaller,
  request: Omit<CatalogRequest, 'authorization'>,
): Promise<CatalogPage> {
  const page = parsePageRequest(request.query, deps.catalog.pageSize);
  const registry = await deps.registry.get(request.now);
  const base = {
    account: caller.account,
    service: deps.catalog.registryService,
    ip: request.ip,
    labels: caller.labels,
  };
  // Those granted the catalog itself keep what the registry would show them: everything.
  // When no ACL rule decides it, ext_authz is asked; if it cannot answer, neither can the catalog.
  // Its run is bound per client address and cancelled with the request, as at the token endpoint.
  const work = {
    client: clientKey(request.ip, deps.ipv6Prefix),
    ...(request.signal ? { signal: request.signal } : {}),
  };
  const admin = await authorizeScope(
    deps.acl,
    deps.extAuthz,
    { ...base, type: 'registry', name: 'catalog', actions: ['*'] },
    work,
  ).catch((err: unknown) => {
    if (err instanceof TooManyRequestsError) throw tooManyRequests(err.retryAfterSeconds, err);
    throw err instanceof BackendUnavailableError ? unavailable(err) : err;
  });
  const full = admin.granted.includes('*');
  const visible = full ? registry.repositories : pullableOf(deps.acl, base, registry);
  const { repositories, more } = pageOf(visible, page);
  return {
    caller,
    full,
    repositories,
    next: more ? { n: page.n, last: repositories[repositories.length - 1]! } : undefined,
    total: registry.repositories.length,
    visible: visible.length,
  };
}

/**
 * What one catalog's per-caller lists hold at most, in units of 8 bytes (about 8 MB): a name of a
 * list is one (a reference to the registry's list), a caller's key a quarter of its characters
 * (up to two bytes each), and each entry 16 more. The key counts: a caller with many labels
 * coming from many addresses (the key holds the address, which ACL ip rules may tell apart) made
 * entries of ~10 KB each.
 */
const MAX_FILTERED_SIZE = 1_000_000;

/** Per catalog read: each caller's filtered list, so paging through it filters once. */
const filtered = new WeakMap<FullCatalog, LRUCache<string, readonly string[]>>();

/**
 * {@link filterPullable} for one read of the registry's catalog, remembered per caller (account,
 * labels, address: everything the decision depends on) while that read is current. A new read
 * (after `cache_ttl`) or a reload (a new runtime, a new ACL) starts afresh.
 */
function pullableOf(
  acl: CompiledAcl,
  who: { account: string; service: string; ip: string | null; labels: CatalogCaller['labels'] },
  registry: FullCatalog,
): readonly string[] {
  let cache = filtered.get(registry);
  if (!cache) {
    cache = new LRUCache<string, readonly string[]>({
      maxSize: MAX_FILTERED_SIZE,
      sizeCalculation: (list, key) => list.length + Math.ceil(key.length / 4) + 16,
    });
    filtered.set(registry, cache);
  }
  const labels = Object.keys(who.labels)
    .sort()
    .map((k) => [k, who.labels[k]]);
  const key = JSON.stringify([who.account, who.service, who.ip, labels]);
  let list = cache.get(key);
  if (!list) {
    list = filterPullable(acl, who, registry.repositories);
    cache.set(key, list);
  }
  return list;
}

/**
 * The repositories the account may pull, in the given order: the compiled ACL decides them in
 * one pass (CompiledAcl.filterNames: what does not depend on the name is decided once per rule,
 * then each name meets only the name patterns of the rules that can apply), exactly as it
 * decides `repository:<name>:pull` at the token endpoint.
 * A repository no ACL rule decides is left out, even with `ext_authz` set (docs/catalog.md
 * "What you see"): one external command per repository would make a listing cost minutes.
 */
export function filterPullable(
  acl: CompiledAcl,
  who: { account: string; service: string; ip: string | null; labels: CatalogCaller['labels'] },
  repositories: readonly string[],
): string[] {
  const { account, service, ip, labels } = who;
  return acl.filterNames({ account, type: 'repository', service, ip, labels }, 'pull', repositories);
}
