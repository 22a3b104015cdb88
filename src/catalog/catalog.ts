import { authorizeScope } from '../authz/chain.js';
import type { ExtAuthorizer } from '../authz/ext.js';
import type { CompiledAcl } from '../authz/acl.js';
import type { CatalogConfig } from '../config/catalog.js';
import type { SigningKey } from '../token/types.js';
import { parsePageRequest, pageOf } from './pages.js';
import type { RegistryCatalog } from './registry.js';
import { verifyCatalogToken, type CatalogCaller } from './token.js';

/** What the filtered catalog needs from the current runtime. */
export interface CatalogDeps {
  readonly catalog: CatalogConfig;
  readonly registry: RegistryCatalog;
  readonly acl: CompiledAcl;
  readonly extAuthz: ExtAuthorizer | undefined;
  readonly key: SigningKey;
  readonly issuer: string;
}

/** One request to `GET /v2/_catalog`, as the HTTP layer read it. */
export interface CatalogRequest {
  readonly authorization: string | undefined;
  /** The raw query string, without `?`. */
  readonly query: string;
  readonly ip: string | null;
  /** Unix milliseconds. */
  readonly now: number;
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
 * Throws CatalogError (400, 401, 503).
 */
export async function listCatalog(deps: CatalogDeps, request: CatalogRequest): Promise<CatalogPage> {
  const caller = await verifyCatalogToken(
    request.authorization,
    deps.key,
    deps.issuer,
    deps.catalog,
    Math.floor(request.now / 1000),
  );
  const page = parsePageRequest(request.query, deps.catalog.pageSize);
  const registry = await deps.registry.get(request.now);
  const base = {
    account: caller.account,
    service: deps.catalog.registryService,
    ip: request.ip,
    labels: caller.labels,
  };
  // Those granted the catalog itself keep what the registry would show them: everything.
  const admin = await authorizeScope(deps.acl, deps.extAuthz, {
    ...base,
    type: 'registry',
    name: 'catalog',
    actions: ['*'],
  });
  const full = admin.granted.includes('*');
  const visible = full ? registry.repositories : filterPullable(deps.acl, base, registry.repositories);
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
 * The repositories the account may pull, in the given order: the compiled ACL decides each one
 * (rules are indexed by literal prefix, so a repository tries only the rules that can match it).
 * A repository no ACL rule decides is left out, even with `ext_authz` set (docs/catalog.md
 * "What you see"): one external command per repository would make a listing cost minutes.
 */
export function filterPullable(
  acl: CompiledAcl,
  who: { account: string; service: string; ip: string | null; labels: CatalogCaller['labels'] },
  repositories: readonly string[],
): string[] {
  const out: string[] = [];
  const actions = ['pull'];
  for (const name of repositories) {
    const decision = acl.authorize({ ...who, type: 'repository', name, actions });
    if (decision.granted.length > 0) out.push(name);
  }
  return out;
}
