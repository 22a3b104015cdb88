/**
 * Found by a review of 31bbb47 (a queued refresh lookup keeps the budget from when it asked). The queued
 * lookup of an account is shared: `lookups.next ??= ...` captures `asked` of the FIRST caller that
 * queued, and every later caller joins that same promise. A caller that joins just before the
 * running lookup ends is so held to the first queuer's deadline, not its own: with a slow
 * directory (a lookup taking 1.5 s of the 2 s budget) it gets a 503 about 0.75 s after it asked,
 * though the directory answers its lookup 1.7 s after it asked, within the budget the Limiter
 * promises "from when it asked". Before 31bbb47 it was answered.
 */
import { expect, test } from 'vitest';
import { aliceDirectory } from '../helpers/fake-ldap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a refresh lookup that joins the queued one late gets its own budget, not the first queuer's", async () => {
  // A slow directory: a search for alice takes 1.5 s (of the 2 x 1 s budget).
  const { authn, config } = aliceDirectory({ max_concurrency: 4, operation_timeout: 1 }, (client) => {
    const search = client.search.bind(client);
    client.search = async (...args: unknown[]) => {
      if (JSON.stringify(args).includes('uid=alice')) await sleep(1500);
      return search(...args);
    };
  });
  const budgetMs = 2 * config.operationTimeoutMs;
  const outcome = (p: Promise<unknown>, started: number) =>
    p.then(
      (v) => ({ ok: true as const, v, ms: Date.now() - started }),
      (e: Error) => ({ ok: false as const, v: e.message, ms: Date.now() - started }),
    );
  try {
    const first = outcome(authn.lookup!('alice'), Date.now());
    await sleep(50);
    // A refresh queued behind it at once (its own budget, by design, runs out).
    const early = outcome(authn.lookup!('alice'), Date.now());
    await sleep(1250);
    // Another refresh of the same account, 0.2 s before the running lookup ends: it joins the
    // queued lookup, which the directory answers about 1.7 s from now, within this caller's budget.
    const askedLate = Date.now();
    const late = outcome(authn.lookup!('alice'), askedLate);
    expect((await first).ok).toBe(true);
    await early;
    const got = await late;
    // Failing sooner than its own budget is wrong; the directory answers within it.
    expect(
      got.ok || got.ms >= budgetMs - 100 ? 'within its budget' : `503 after ${got.ms} ms: ${String(got.v)}`,
    ).toBe('within its budget');
    expect(got.ok).toBe(true);
  } finally {
    await authn.close();
  }
}, 20_000);
