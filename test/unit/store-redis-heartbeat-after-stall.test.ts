/**
 * Found by a review of the first version of the command connection's heartbeat (e5b150f): the
 * reading's GET gets its commandTimeout from the moment it is asked, including while ioredis
 * holds it in its offline queue during a reconnect. A reading asked while the connection was
 * being made again, flushed when it became ready, times out shortly after: the connection is
 * `ready`, nothing was answered since the reading was asked (there was no connection to answer
 * it), and the brand-new connection is dropped. With a Redis whose replies take 300 ms (well
 * within store.timeout_ms 500), the connection made again becomes ready ~400 ms after the drop,
 * so the reading asked at the drop is answered ~700 ms after it: past its deadline, every time.
 * One stall of Redis puts the store in a reconnect loop for good, every operation failing.
 */
import { connect, createServer, type Socket } from 'node:net';
import { expect, test } from 'vitest';
import { answersLockoutStep, useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { redis, servers, open } = useRedisPeer({ tmpPrefix: 'regauth-redis-heartbeat-stall-' });

/** A TCP proxy whose replies from Redis arrive `delayMs` late (a slow but healthy path). */
async function slowProxy(delayMs: number) {
  let connections = 0;
  const server = createServer((client: Socket) => {
    connections++;
    const upstream = connect(redis.port, '127.0.0.1');
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) =>
      setTimeout(() => {
        if (!client.destroyed) client.write(d);
      }, delayMs),
    );
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => setTimeout(() => client.destroy(), delayMs));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}/0`,
    connections: () => connections,
  };
}

test('a Redis answering in 300 ms (timeout 500) is usable again after one stall, not dropped in a loop', async () => {
  const proxy = await slowProxy(300);
  const s = open({ url: proxy.url, keyPrefix: 'stale:', timeoutMs: 500 });
  expect(await until(() => s.problem() === undefined, 5_000)).toBe(true);
  // Healthy: every round trip takes 300 ms, within the 500 ms timeout, and the connection stays.
  await sleep(1_500);
  expect(await answersLockoutStep(s)).toBe(true);
  const before = proxy.connections();
  expect(before).toBe(2); // the command connection and the listening one

  // One stall of Redis (a BGSAVE fork, a slow command, a VM pause) of 1.2 s.
  redis.pause();
  await sleep(1_200);
  redis.resume();

  // Redis answers every question in 300 ms again: within a few seconds the store should too,
  // and stop connecting again.
  await sleep(3_000);
  const settled = proxy.connections();
  let ok = 0;
  for (let i = 0; i < 8; i++) if (await answersLockoutStep(s)) ok++;
  const reconnectsMeanwhile = proxy.connections() - settled;
  expect({ ok, reconnectsMeanwhile }).toEqual({ ok: 8, reconnectsMeanwhile: 0 });
}, 40_000);
