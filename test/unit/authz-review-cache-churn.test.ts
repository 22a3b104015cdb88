import { expect, test, vi } from 'vitest';

// Review of fa99bc0 (PatternCache.goGlob). Each label value with glob syntax now takes TWO
// entries of the shared PatternCache (10,000 by default): `g<escaped glob>` and `p<raw text>`.
// An account with 6,000 such values (below MAX_LABEL_COMBINATIONS, 10,000; any of them arriving
// from a backend) needs 12,000: the FIFO cache evicts in a cycle and every request rebuilds
// every glob (one minimatch per value per scope), for this caller and, the cache being shared,
// everyone else's. Measured: 16 ms per scope before the commit, 219 ms after (9,999 values).
// A fix: do not cache the docker_auth reading of a value (it is built in linear time), or
// count it against its own, separate budget.

let built = 0;
vi.mock('minimatch', async (importOriginal) => {
  const original = await importOriginal<typeof import('minimatch')>();
  class Counted extends original.Minimatch {
    constructor(...args: ConstructorParameters<typeof original.Minimatch>) {
      super(...args);
      built++;
    }
  }
  return { ...original, Minimatch: Counted };
});

test('deciding the same scope twice builds no glob the second time', async () => {
  const { compileAcl } = await import('../../src/authz/acl.js');
  const acl = compileAcl([
    { match: { name: '${labels:team}/*' }, actions: [] },
    { match: {}, actions: ['pull'] },
  ]);
  const request = {
    account: 'dev',
    type: 'repository',
    name: 'org/app',
    service: 'registry',
    ip: null,
    labels: { team: Array.from({ length: 6000 }, (_, i) => `team${i}*`) },
    actions: ['pull'],
  };
  expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  const before = built;
  expect(acl.authorize(request)).toEqual({ granted: ['pull'], rule: 1 });
  expect(built - before).toBe(0);
});
