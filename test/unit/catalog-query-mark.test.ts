/**
 * Found by a review of 52d51cd ("Read the catalog's n and last as Go's ParseQuery reads them").
 *
 * src/catalog/pages.ts promises `n` and `last` read as the registry reads them: Go's
 * `url.ParseQuery` (split on `&`, each pair's key and value unescaped as written) then
 * `Query().Get`. The fix hands the kept pairs to `new URLSearchParams(string)`, whose constructor
 * also drops ONE leading `?` from its input. So a request target `/v2/_catalog??n=5` (query `?n=5`,
 * which Go reads as the key `?n`: no `n`, the default page) is read as n=5 here, and
 * `?n=abc` is a 400 where the registry answers 200. The same happens when the first pair is one
 * the filter drops (`%zz&?n=5` joins to `?n=5`).
 */
import { expect, test } from 'vitest';
import { parsePageRequest } from '../../src/catalog/pages.js';

test.each(['?n=5', '%zz&?n=5', '?last=team%2Fapp', '?n=abc'])(
  'query %s: its first key starts with "?", not n or last, as in Go: the default page',
  (query) => {
    // Today: {n: 5, last: ''}, {n: 100, last: 'team/app'}, or 400 PAGINATION_NUMBER_INVALID.
    expect(parsePageRequest(query, 1000)).toEqual({ n: 100, last: '' });
  },
);

test('a later n still counts after a first key "?n"', () => {
  expect(parsePageRequest('?n=5&n=7', 1000)).toEqual({ n: 7, last: '' });
});
