import { afterEach, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';

// Found by a review of 8558171 (docs/acl.md "Placeholders": docker_auth's reading is "matched by Go's own
// procedure over UTF-8 bytes ... both in time linear in the value, so that no client's value can
// make a request wait"). Go's path.Match is not linear when the PATTERN comes from a client too:
// for a `*` chunk it tries the chunk at every offset of the value (go-glob.ts `matches`, loop over
// `skip`, each a `matchAtoms`), Theta(L * W) for a value of L bytes and a chunk of W. In a labels
// check with a label placeholder (`labels: {h: '${labels:g}'}`, which docs/acl.md offers, and
// where docker_auth does not even expand `${labels:…}`), both sides are label values from the
// account's backend, and neither has a length limit. regauth's own reading (values escaped) is a
// string comparison; docker_auth's reading is run for every value it fails.
// Measured (not asserted): g = `*` + 20,000 `a` + `b`, h = 40,000 `a` -> 1.4 s for one scope
// (and again for each further scope and each further pair of values); 10x the sizes -> ~60x time.
// Counted here: array-iterator steps (matchAtoms' `for (const atom of atoms)`) while deciding the
// scope; doubling both values must not quadruple them.
// A fix: do not run a reading docker_auth never makes (label placeholders in labels patterns), and
// bound the work of docker_auth's glob reading (e.g. W * L above a budget counts as Unmatchable:
// the rule decides and grants nothing, as for a value too long to build).

const iterator = Object.getPrototypeOf([][Symbol.iterator]()) as { next: (...a: unknown[]) => unknown };
const next = iterator.next;
afterEach(() => {
  iterator.next = next;
});

const acl = compileAcl([
  { match: { labels: { h: '${labels:g}' } }, actions: [] },
  { match: {}, actions: ['pull'] },
]);
const base = {
  account: 'dev',
  type: 'repository',
  name: 'org/app',
  service: 'registry',
  ip: null,
  actions: ['pull'],
};

/** Iterator steps taken while deciding a scope with label values of about `size` bytes. */
function steps(size: number): number {
  const request = { ...base, labels: { g: [`*${'a'.repeat(size)}b`], h: ['a'.repeat(2 * size)] } };
  expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  let count = 0;
  iterator.next = function (this: unknown, ...args: unknown[]) {
    count++;
    return next.apply(this, args);
  };
  try {
    expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  } finally {
    iterator.next = next;
  }
  return count;
}

test('the work for one label value against another grows linearly with their size', () => {
  const small = steps(1000);
  const large = steps(2000);
  // Today: 1.5 M and 6.0 M steps (x4 for x2), about 500 steps per byte of labels at 2,000.
  expect(large / small).toBeLessThan(3);
  expect(large).toBeLessThan(100 * 6 * 2000);
});
