/**
 * Found by a review of the filtered catalog: `n` and `last` as Go's ParseQuery and strconv.Atoi read them.
 *
 * docs/catalog.md "Errors": `n` that is not an integer is 400 PAGINATION_NUMBER_INVALID, `last`
 * that is not a repository name is 400 NAME_INVALID; src/catalog/pages.ts says a pair is dropped
 * only when it "is not valid percent-encoding ... as Go's ParseQuery does". `%FF` (any escape
 * that does not decode to UTF-8) is valid percent-encoding for Go (it yields the byte 0xFF), but
 * decodeURIComponent throws on it, so regauth drops the pair: `?last=%FF` silently answers the
 * FIRST page (with a Link onwards), and `?n=%FF` a default page, instead of the documented 400.
 * A client whose `last` got garbled starts over from page one and re-lists everything instead of
 * failing. And Atoi reads any number of leading zeros: `n=0000000000000002` is the integer 2.
 */
import { expect, test } from 'vitest';
import { CatalogError } from '../../src/catalog/errors.js';
import { parsePageRequest } from '../../src/catalog/pages.js';

const refusal = (query: string): { status: number; code: string } | 'accepted' => {
  try {
    parsePageRequest(query, 1000);
    return 'accepted';
  } catch (err) {
    if (err instanceof CatalogError) return { status: err.status, code: err.errorCode };
    throw err;
  }
};

test.each(['last=%FF', 'last=team%2Fapp%C0%AF', 'last=%ED%A0%80'])(
  '%s (valid percent-encoding, not a repository name) is NAME_INVALID, not the first page',
  (query) => {
    expect(refusal(query)).toEqual({ status: 400, code: 'NAME_INVALID' });
  },
);

test('n=%FF (not an integer) is PAGINATION_NUMBER_INVALID, not the default page', () => {
  expect(refusal('n=%FF')).toEqual({ status: 400, code: 'PAGINATION_NUMBER_INVALID' });
});

test('a garbled last does not let a later one through: the first pair counts, as in Go', () => {
  expect(refusal('last=%FF&last=team%2Fapp')).toEqual({ status: 400, code: 'NAME_INVALID' });
});

test('n with leading zeros is the integer strconv.Atoi reads', () => {
  expect(parsePageRequest('n=0000000000000002', 1000)).toEqual({ n: 2, last: '' });
});

test('a pair with a `;` is dropped, as Go 1.17 on drops it, and a later one counts', () => {
  expect(parsePageRequest('last=team%2Fapp;x&last=team%2Fweb', 1000)).toEqual({ n: 100, last: 'team/web' });
  expect(parsePageRequest('n=2;&n=3', 1000)).toEqual({ n: 3, last: '' });
});

test('a malformed escape still drops its pair, and a later one counts', () => {
  expect(parsePageRequest('last=%zz&last=team%2Fweb&n=5%', 1000)).toEqual({ n: 100, last: 'team/web' });
});
