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
 * Go's `Query().Get`; a pair that is not valid percent-encoding is ignored, as Go's `ParseQuery` does.
 */
export function parsePageRequest(query: string, pageSize: number): PageRequest {
  let nText: string | undefined;
  let lastText: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    // Go's ParseQuery, which the registry uses, drops a pair it cannot decode.
    if (key === undefined || value === undefined) continue;
    if (key === 'n' && nText === undefined) nText = value;
    else if (key === 'last' && lastText === undefined) lastText = value;
  }

  let n = Math.min(DEFAULT_ENTRIES, pageSize);
  if (nText !== undefined && nText !== '') {
    // strconv.Atoi: an optional sign and decimal digits.
    const parsed = /^[+-]?\d{1,15}$/.test(nText) ? Number(nText) : NaN;
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

/** `+` is a space in a query (Go's ParseQuery); undefined for malformed percent-encoding. */
function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
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
