/**
 * Found by a review of the Redis store: its command connection over a flow that goes silent
 * without closing (a NAT or firewall that dropped it, an L4 proxy whose upstream died without a
 * reset). The listening connection was asked twice a second whether it is alive and reconnected
 * when it was not; the command connection, which every lockout step runs on, was never asked:
 * ioredis' commandTimeout only rejects each command, so every operation timed out for as long as
 * the kernel kept the dead socket (about 15 minutes on Linux), while Redis answered a new
 * connection at once: 503 for every login to check under fail_closed, no limits under fail_open.
 * The lock epoch's reading, twice a second, is now its heartbeat (docs/deployment.md "When Redis
 * cannot answer").
 */
import { expect, test } from 'vitest';
import { answersLockoutStep, useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { open, blackHoleProxy } = useRedisPeer({ tmpPrefix: 'regauth-redis-silent-command-' });

test('a command connection gone silent (half-open TCP): the store connects again and answers, as the listening one does', async () => {
  const proxy = await blackHoleProxy();
  const s = open({ url: proxy.url, keyPrefix: 'silent:' });
  expect(await until(() => s.lockout.lockNews!() !== undefined, 5_000)).toBe(true);
  expect(await answersLockoutStep(s)).toBe(true);
  // The flow of the command connection (the one that never subscribed) is dropped silently.
  proxy.silence((c) => !/subscribe/i.test(c.seen));
  expect(await answersLockoutStep(s)).toBe(false);
  // Redis is fine, and a new connection through the same path works at once:
  const fresh = open({ url: proxy.url, keyPrefix: 'silent:' });
  expect(await answersLockoutStep(fresh)).toBe(true);
  // ... so within a few seconds the store should answer again (the listening connection, in
  // the same situation, reconnects within about 2 s).
  let back = false;
  for (const end = Date.now() + 12_000; !back && Date.now() < end;) {
    back = await answersLockoutStep(s);
    if (!back) await sleep(200);
  }
  expect({ back, problem: back ? undefined : s.problem() }).toEqual({ back: true, problem: undefined });
}, 40_000);
