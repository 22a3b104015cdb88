import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, hash, randomPassword } from '../helpers/fixtures.js';
import { REPO_ROOT, startHaproxy, type Haproxy } from './harness/deploy.js';
import { freePort } from './harness/ports.js';
import { startRegauth, type RegauthStack } from './harness/stack.js';

/**
 * Slow clients (slowloris): connections that send nothing, half a header or a body a byte at a
 * time must not hold regauth's sockets for long, and a flood of them from one address must not
 * take the front door (examples/haproxy.cfg) down for everyone else.
 */

const alice = randomPassword();
let stack: RegauthStack;
let regauthPort: number;

beforeAll(async () => {
  stack = await startRegauth({
    name: 'slow-clients',
    // The defaults under test: nothing about timeouts or connections is configured.
    server: '  trusted_proxies: [127.0.0.1]',
    config: `users:\n  alice: {password: "${hash(alice)}"}\nacl:\n  - match: {account: alice}\n    actions: [pull]\n`,
  });
  regauthPort = Number(new URL(stack.regauth.url).port);
});
afterAll(async () => {
  await stack?.stop();
});

/** Opens a connection from `localAddress`, writes `head`, and resolves once connected. */
function stall(port: number, head: string, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.on('error', () => undefined);
    // Read (and drop) what the server sends, so its closing the connection is seen.
    socket.resume();
    socket.once('connect', () => {
      if (head) socket.write(head);
      resolve(socket);
    });
    // A refused or reset connection counts as done too.
    socket.once('close', () => resolve(socket));
  });
}

/**
 * Whether the server closed the socket before `limitMs` (else it is destroyed then), and after how
 * many milliseconds. The limit is generous on purpose: on a loaded machine (a clean clone runs the
 * e2e files side by side on two cores) this process's timers and events came 4 s late, and a
 * close the server made on time was seen at 13 s.
 */
function closedWithin(socket: Socket, limitMs: number): Promise<{ byServer: boolean; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (socket.closed) return resolve({ byServer: true, ms: 0 });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ byServer: false, ms: Date.now() - started });
    }, limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ byServer: true, ms: Date.now() - started });
    });
  });
}

/** GET from a chosen local address; status and milliseconds (status 0: no answer within 5 s). */
function timedGet(
  url: string,
  headers: Record<string, string>,
  localAddress = '127.0.0.1',
): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = request(url, { localAddress, headers, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: Date.now() - started }));
    req.end();
  });
}

describe('directly against regauth (its defaults)', () => {
  test('a connection that sends nothing is closed within a few seconds', async () => {
    const socket = await stall(regauthPort, '');
    // headers_timeout (5 s by default), checked every second.
    expect(await closedWithin(socket, 20_000)).toMatchObject({ byServer: true });
  }, 30_000);

  test('a connection that sends half a header is closed within a few seconds', async () => {
    const socket = await stall(regauthPort, 'GET /auth HTTP/1.1\r\nHost: x\r\n');
    expect(await closedWithin(socket, 20_000)).toMatchObject({ byServer: true });
  }, 30_000);

  test('a body sent a byte at a time is cut off within a few seconds', async () => {
    const socket = await stall(
      regauthPort,
      'POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n',
    );
    const drip = setInterval(() => socket.writable && socket.write('a'), 300);
    try {
      // request_timeout (10 s by default): the drip never completes the body.
      expect(await closedWithin(socket, 25_000)).toMatchObject({ byServer: true });
    } finally {
      clearInterval(drip);
    }
  }, 35_000);

  test('more connections than server.max_connections are refused, and /healthz answers once they time out', async () => {
    // The default cap is 512: hold more than that, each with half a header.
    const held = await Promise.all(
      Array.from({ length: 700 }, () => stall(regauthPort, 'GET /healthz HTTP/1.1\r\n')),
    );
    try {
      // What is past the cap is closed at once, so the process never runs out of descriptors.
      await new Promise((r) => setTimeout(r, 500));
      const open = held.filter((s) => !s.closed).length;
      expect(open).toBeLessThanOrEqual(512);
      expect(open).toBeGreaterThan(400);
      // The held ones are closed by the header timeout; then /healthz answers again.
      let healthy = false;
      const deadline = Date.now() + 12_000;
      while (!healthy && Date.now() < deadline) {
        healthy = (await timedGet(`${stack.regauth.url}/healthz`, {})).status === 200;
        if (!healthy) await new Promise((r) => setTimeout(r, 250));
      }
      expect(healthy).toBe(true);
    } finally {
      for (const s of held) s.destroy();
    }
  }, 30_000);
});

describe('through examples/haproxy.cfg', () => {
  let haproxy: Haproxy;
  beforeAll(async () => {
    haproxy = await startHaproxy({
      configPath: join(REPO_ROOT, 'examples/haproxy.cfg'),
      // No registry is needed here: only regauth's paths are asked.
      env: { REGISTRY_ADDR: `127.0.0.1:${await freePort()}`, REGAUTH_ADDR: `127.0.0.1:${regauthPort}` },
    });
  }, 30_000);
  afterAll(async () => {
    await haproxy?.stop();
  });

  /** Writes `raw` on a fresh connection and returns the status of every reply until it closes (or 3 s). */
  function exchange(raw: string): Promise<number[]> {
    return new Promise((resolve) => {
      const socket = connect({ port: haproxy.port, host: '127.0.0.1' });
      let text = '';
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve([...text.matchAll(/^HTTP\/1\.[01] (\d{3}) /gm)].map((m) => Number(m[1])));
      };
      const timer = setTimeout(done, 3000);
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('error', () => undefined);
      socket.on('close', done);
      socket.once('connect', () => socket.write(raw));
    });
  }

  // Every front request is POST /auth/token without a grant (regauth: 400); every smuggled one
  // is GET /healthz, which HAProxy answers 404 and only regauth would answer 200. So a 200 means a
  // request got past HAProxy's view of the stream.
  const post = 'POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n';
  const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  test.each([
    ['CL.TE', `${post}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`],
    [
      'TE.CL',
      `${post}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
    ],
    [
      'duplicate Content-Length',
      `${post}Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    ],
    [
      'Transfer-Encoding with a space before the colon',
      `${post}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    ],
    [
      'Transfer-Encoding xchunked',
      `${post}Transfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n${smuggled}`,
    ],
    ['obs-fold', `${post}X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n`],
    ['bare LF', post.replaceAll('\r\n', '\n') + 'Content-Length: 0\n\n'],
    ['pipelined', `${post}Content-Length: 0\r\n\r\n${smuggled}`],
    ['absolute-form', 'GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['dot segments out of /oidc/', 'GET /oidc/../metrics HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a 20 KiB header', `${post}X-Big: ${'a'.repeat(20 * 1024)}\r\nContent-Length: 0\r\n\r\n`],
  ])('%s: no request gets past HAProxy unseen', async (_name, raw) => {
    const statuses = await exchange(raw);
    expect(statuses.length).toBeGreaterThan(0);
    expect(
      statuses.every((status) => [400, 404, 405, 413, 431, 501].includes(status)),
      JSON.stringify(statuses),
    ).toBe(true);
  });

  test('a 70 KiB body is refused with 413', async () => {
    const body = `grant_type=password&username=a&password=${'a'.repeat(70 * 1024)}`;
    expect(await exchange(`${post}Content-Length: ${body.length}\r\n\r\n${body}`)).toEqual([413]);
  });

  test('a flood of half-header connections from one address leaves logins from others answered', async () => {
    // More than HAProxy's global maxconn (4096), from one address, each stalled mid-header.
    const attacker = '127.0.0.3';
    const flood: Socket[] = [];
    try {
      for (let i = 0; i < 4300; i += 100) {
        flood.push(
          ...(await Promise.all(
            Array.from({ length: 100 }, () =>
              stall(haproxy.port, 'GET /auth HTTP/1.1\r\nHost: x\r\nX-Slow: ', attacker),
            ),
          )),
        );
      }
      const samples: { status: number; ms: number }[] = [];
      for (let i = 0; i < 5; i++) {
        samples.push(
          await timedGet(
            `${haproxy.url}/auth?service=x`,
            { Authorization: basic('alice', alice) },
            '127.0.0.2',
          ),
        );
        // /healthz on regauth's own port stays answerable too.
        expect((await timedGet(`${stack.regauth.url}/healthz`, {})).status).toBe(200);
      }
      expect(samples.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
      // Under a second, allowing one sample for the noise of a shared machine.
      expect(samples.filter((s) => s.ms < 1000).length, JSON.stringify(samples)).toBeGreaterThanOrEqual(4);
      // The attacker got only a handful of its connections held.
      expect(flood.filter((s) => !s.closed).length).toBeLessThanOrEqual(200);
    } finally {
      for (const s of flood) s.destroy();
    }
  }, 120_000);
});
