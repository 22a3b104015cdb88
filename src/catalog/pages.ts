import { isValidRepositoryName } from '../request/reference.js';
import { CatalogError } from './errors.js';

/** The page size when the request gives no `n` (distribution's default). */
export const DEFAULT_ENTRIES = 100;

/** One page as asked: how many entries, after which repository. */
export interface PageRequest {
  readonly n: number;
  /** Empty: from the start. */
  readonly last: string;
}

/**
 * Reads `n` and `last` the way the registry does (docs/catalog.md "Pages"): `n` an integer from 0
 * to `pageSize` (more is PAGINATION_NUMBER_INVALID, as the registry's `catalog.maxentries`), default
 * min(100, pageSize); `last` a repository name or empty. A `last` that no repository could have is
 * NAME_INVALID (the registry itself would answer 500). Repeated parameters: the first counts, as
 * Go's `Query().Get`; a pair Go's `ParseQuery` cannot read (a malformed escape, a `;`) is ignored.
 */
export function parsePageRequest(query: string, pageSize: number): PageRequest {
  // Go's ParseQuery, which the registry uses, drops a pair it cannot read: a malformed escape
  // (`%zz`, a `%` at its end) or a `;` (Go 1.17 on). It reads an escape that is not UTF-8 (`%FF`)
  // as its byte, as URLSearchParams does (as U+FFFD here, which no name or number holds).
  const readable = query
    .split('&')
    .filter((part) => !/%(?![0-9a-fA-F]{2})|;/.test(part))
    .join('&');
  // The `?` put first is the one URLSearchParams takes off: a `?` the query starts with
  // (`??n=5`) stays part of its first key, as in Go.
  const params = new URLSearchParams(`?${readable}`);
  const nText = params.get('n') ?? undefined;
  const lastText = params.get('last') ?? undefined;

  let n = Math.min(DEFAULT_ENTRIES, pageSize);
  if (nText !== undefined && nText !== '') {
    // strconv.Atoi: an optional sign and decimal digits, leading zeros as many as written.
    const parsed = /^[+-]?0*\d{1,15}$/.test(nText) ? Number(nText) : NaN;
    if (!Number.isSafeInteger(parsed) || parsed < 0) {
      throw new CatalogError(400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', {
        detail: { n: nText.slice(0, 64) },
      });
    }
    if (parsed > pageSize) {
      throw new CatalogError(400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', {
        detail: { n: parsed },
      });
    }
    n = parsed;
  }
  const last = lastText ?? '';
  if (last !== '' && !isValidRepositoryName(last)) {
    throw new CatalogError(400, 'NAME_INVALID', 'invalid repository name', {
      detail: { last: last.slice(0, 64) },
    });
  }
  return { n, last };
}

/**
 * The registry's order: path components compared byte by byte, `/` before any other byte
 * (`a/b` < `a-b`), the order its storage walk yields. Names are ASCII by grammar.
 */
export function compareRepositories(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) x = 0;
    if (y === 0x2f) y = 0;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * One page of `sorted` (in {@link compareRepositories} order): up to `n` entries after `last`,
 * and whether more follow (then the reply carries a `Link` to the next page).
 */
export function pageOf(
  sorted: readonly string[],
  page: PageRequest,
): { repositories: string[]; more: boolean } {
  if (page.n === 0) return { repositories: [], more: false };
  let start = 0;
  if (page.last !== '') {
    // First entry strictly after `last` (which need not be in the list).
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareRepositories(sorted[mid]!, page.last) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const repositories = sorted.slice(start, start + page.n);
  return { repositories, more: start + page.n < sorted.length };
}
