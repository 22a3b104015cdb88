import { expect, test, vi } from 'vitest';

// a523bb0 made matchesTrailingSlash build a Minimatch for every alternative of a glob, on every
// request, for every value ending in `/`: whoever controls label values (an identity provider's
// group paths) could make one request cost values × alternatives compilations (500 × 201 took
// about 0.4 s). Each glob's alternatives are now compiled once. Found by a review of that change.
let built = 0;
vi.mock('minimatch', async (importOriginal) => {
  const real = await importOriginal<typeof import('minimatch')>();
  class Counting extends real.Minimatch {
    constructor(...args: ConstructorParameters<typeof real.Minimatch>) {
      super(...args);
      built++;
    }
  }
  return { ...real, Minimatch: Counting };
});

test('matching label values ending in "/" compiles no glob per alternative per request', async () => {
  const { compileAcl } = await import('../../src/authz/acl.js');
  const alts = Array.from({ length: 200 }, (_, i) => `t${i}-*`).join(',');
  const acl = compileAcl([
    { match: { labels: { group: `{${alts},*}/*` } }, actions: ['push'] },
    { match: {}, actions: ['pull'] },
  ]);
  const request = {
    account: 'alice',
    type: 'repository',
    name: 'team/app',
    service: 'registry',
    ip: null,
    actions: ['push', 'pull'],
    labels: { group: Array.from({ length: 500 }, (_, i) => `g${i}/x/`) },
  } as const;
  acl.authorize(request); // warm-up: anything built lazily once is allowed
  built = 0;
  const { granted } = acl.authorize(request);
  expect(granted).toEqual(['pull']); // as path.Match: `*/*` does not match `g0/x/`
  expect(built).toBe(0);
});
