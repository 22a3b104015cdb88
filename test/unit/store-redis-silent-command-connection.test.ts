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
import { connect, createServer, type Socket } from 'node:net';
import { expect, test } from 'vitest';
import { StoreUnavailableError } from '../../src/store/types.js';
import { REDIS_LOCK_POLICY as POLICY, useRedisPeer } from '../helpers/redis-store.js';
import { sleep, until } from '../helpers/wait.js';

const { redis, servers, open } = useRedisPeer({ tmpPrefix: 'regauth-review-store-silent-' });

type Conn = Socket & { seen: string };

/** A TCP proxy whose silenced connections are a black hole (bytes and FIN swallowed both ways). */
async function blackHoleProxy() {
  const conns: Conn[] = [];
  const silenced = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    const client = sock as Conn;
    client.seen = '';
    conns.push(client);
    const upstream = connect(redis.port, '127.0.0.1');
    client.on('data', (d) => {
      client.seen += d.toString('latin1');
      if (!silenced.has(client)) upstream.write(d);
    });
    client.on('end', () => {
      if (!silenced.has(client)) client.end();
    });
    upstream.on('data', (d) => {
      if (!silenced.has(client)) client.write(d);
    });
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (!silenced.has(client)) client.destroy();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}/0`,
    conns,
    silence: (which: (c: Conn) => boolean) => conns.filter(which).forEach((c) => silenced.add(c)),
  };
}

/** Whether one lockout step goes through (a reservation, given back at once). */
async function answers(s: ReturnType<typeof open>): Promise<boolean> {
  try {
    const r = await s.lockout.reserve('5:alice10.0.0.1', 'alice', POLICY, Date.now());
    if (typeof r === 'object' && 'id' in r) await s.lockout.release(r);
    return true;
  } catch (err) {
    if (err instanceof StoreUnavailableError) return false;
    throw err;
  }
}

test('a command connection gone silent (half-open TCP): the store connects again and answers, as the listening one does', async () => {
  const proxy = await blackHoleProxy();
  const s = open({ url: proxy.url, keyPrefix: 'silent:' });
  expect(await until(() => s.lockout.lockNews!() !== undefined, 5_000)).toBe(true);
  expect(await answers(s)).toBe(true);
  // The flow of the command connection (the one that never subscribed) is dropped silently.
  proxy.silence((c) => !/subscribe/i.test(c.seen));
  expect(await answers(s)).toBe(false);
  // Redis is fine, and a new connection through the same path works at once:
  const fresh = open({ url: proxy.url, keyPrefix: 'silent:' });
  expect(await answers(fresh)).toBe(true);
  // ... so within a few seconds the store should answer again (the listening connection, in
  // the same situation, reconnects within about 2 s).
  let back = false;
  for (const end = Date.now() + 12_000; !back && Date.now() < end;) {
    back = await answers(s);
    if (!back) await sleep(200);
  }
  expect({ back, problem: back ? undefined : s.problem() }).toEqual({ back: true, problem: undefined });
}, 40_000);
