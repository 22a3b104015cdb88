/**
 * Found by a review of the command connection's heartbeat (e5b150f, its first version): the lock-
 * epoch reading reconnects the command connection as soon as one reading goes unanswered for
 * store.timeout_ms. A Redis that stalls a little longer than that (a fork for BGSAVE, a slow
 * command of another client, a VM pause: 600 ms here, timeout 500) is not a dead flow, but the
 * connection is dropped at the reading's deadline, and with it every command in flight: a lockout
 * step sent 300 ms before Redis answers again, which it would have answered within its own 500
 * ms, fails (503 under fail_closed). Every replica reads the epoch on the same Redis, so a stall
 * drops every replica's in-flight logins at once. Before the commit the step succeeded.
 */
import { connect, createServer, type Socket } from 'node:net';
import { expect, test } from 'vitest';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { redis, servers, open } = useRedisPeer({ tmpPrefix: 'regauth-redis-stall-inflight-' });

/** A proxy that can hold Redis' replies (a stall) and tell when a command was sent. */
async function stallingProxy() {
  let held: Array<() => void> | undefined;
  const seen: Array<{ at: number; text: string }> = [];
  const server = createServer((client: Socket) => {
    const upstream = connect(redis.port, '127.0.0.1');
    client.on('data', (d) => {
      seen.push({ at: performance.now(), text: d.toString('latin1') });
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      const send = () => {
        if (!client.destroyed) client.write(d);
      };
      if (held) held.push(send);
      else send();
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}/0`,
    seen,
    hold: () => void (held = []),
    release: () => {
      const h = held ?? [];
      held = undefined;
      for (const send of h) send();
    },
  };
}

test('a 600 ms stall (timeout 500): a lockout step Redis answers 300 ms after it was sent succeeds', async () => {
  const proxy = await stallingProxy();
  const s = open({ url: proxy.url, keyPrefix: 'stall:', timeoutMs: 500 });
  expect(await until(() => s.problem() === undefined, 5_000)).toBe(true);
  await sleep(1_000);
  // Redis stalls; the next lock-epoch reading is sent into the stall.
  proxy.hold();
  const from = proxy.seen.length;
  expect(await until(() => proxy.seen.slice(from).some((c) => c.text.includes('lockout:epoch')), 2_000)).toBe(
    true,
  );
  const readingAt = proxy.seen.slice(from).find((c) => c.text.includes('lockout:epoch'))!.at;
  // 300 ms into the stall, a login's reservation is sent; Redis answers everything 600 ms in.
  await sleep(Math.max(0, readingAt + 300 - performance.now()));
  const sentAt = performance.now();
  const step = s.lockout.reserve('5:bob10.0.0.2', 'bob', POLICY, Date.now()).then(
    () => 'answered',
    (err: unknown) => `failed: ${(err as Error).message}`,
  );
  setTimeout(proxy.release, Math.max(0, readingAt + 600 - performance.now()));
  const outcome = await step;
  const took = performance.now() - sentAt;
  expect({ outcome, withinTimeout: took < 500 || outcome !== 'answered' }).toEqual({
    outcome: 'answered',
    withinTimeout: true,
  });
}, 30_000);
