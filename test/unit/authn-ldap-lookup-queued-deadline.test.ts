/**
 * Found by a review of 45daf8b (ldap_auth: a lookup asked while one of the same account is under way is
 * queued behind it). The Limiter bounds each directory operation to 2 x operation_timeout "in all
 * ... so several slow steps cannot add up past docker's 15 s" (limit.ts). A queued refresh lookup
 * now first waits for the running one to end (up to 2 x operation_timeout when the directory does
 * not answer) and only then starts its own, which has a whole 2 x operation_timeout of its own:
 * with a directory that hangs, a refresh grant waits up to 4 x operation_timeout (20 s with the
 * default 5 s), past docker's 15 s, where before it failed closed (503) within 2 x.
 */
import { expect, test } from 'vitest';
import { aliceDirectory } from '../helpers/fake-ldap.js';

test('a refresh lookup queued behind a hung one still fails within the 2 x operation_timeout budget', async () => {
  // A directory that never answers a search for alice (overloaded, a network partition).
  const { authn, config } = aliceDirectory({ max_concurrency: 4, operation_timeout: 1 }, (client) => {
    const search = client.search.bind(client);
    client.search = async (...args: unknown[]) => {
      if (JSON.stringify(args).includes('uid=alice')) return new Promise(() => undefined);
      return search(...args);
    };
  });
  const budgetMs = 2 * config.operationTimeoutMs;

  const settledAfter = (p: Promise<unknown>, started: number) =>
    p.then(
      () => Date.now() - started,
      () => Date.now() - started,
    );
  const t0 = Date.now();
  const first = settledAfter(authn.lookup!('alice'), t0);
  await new Promise((r) => setTimeout(r, 50));
  // The same refresh token sent again (docker retries; a second pull) while the first waits.
  const t1 = Date.now();
  const second = settledAfter(authn.lookup!('alice'), t1);

  expect(await first).toBeLessThan(budgetMs + 500);
  // Each refresh is answered (503) within the budget the Limiter promises, measured from when it asked.
  expect(await second).toBeLessThan(budgetMs + 500);
  await authn.close();
}, 15_000);
