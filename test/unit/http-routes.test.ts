import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MethodNotAllowedError, RegauthError } from '../../src/core/errors.js';
import { createApp, type AppDeps } from '../../src/http/app.js';
import { compileRoutes, getAndHead, type Method, type Route } from '../../src/http/dispatch.js';
import { startMetricsServer } from '../../src/http/metrics.js';
import { routeTable } from '../../src/http/routes.js';
import { createLogger } from '../../src/core/log.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';
import { logSink, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The route table (src/http/routes.ts) is the only place a path is declared: the app answers
 * exactly its paths and methods, a method a path does not list gets the table's 405 (with
 * `Allow`) or the unknown path's 404, and nothing in src/ registers a route of its own.
 */

const PREFIX = '/regauth';
const tmp = tempDir();
let srv: TestServer;
let table: Route[];

/** Every method node's client sends that a route could list or refuse. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const NOT_FOUND = { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] };

beforeAll(async () => {
  // catalog: set (the registry page and /v2/_catalog answer instead of their 404); the registry
  // is never reached without credentials. metrics: on the token listener.
  srv = await startTestServer({
    dir: tmp.dir,
    config: ({ keyPath, certPath }) =>
      [
        'server:',
        `  path_prefix: ${PREFIX}`,
        'token:',
        '  issuer: routes-test',
        `  key: ${keyPath}`,
        `  certificate: ${certPath}`,
        'users:',
        `  alice: {password: "${hash(randomPassword())}"}`,
        'acl: [{match: {account: alice}, actions: [pull]}]',
        'catalog:',
        '  registry_url: http://127.0.0.1:9',
        '  realm: https://registry.example/auth',
        '  registry_service: registry.example',
      ].join('\n') + '\n',
    server: { metrics: createMetrics() },
  });
  table = routeTable(deps(), PREFIX);
});
afterAll(async () => {
  await srv.server.close(100);
  tmp.cleanup();
});

function deps(): AppDeps {
  return {
    runtime: () => srv.runtime,
    logger: createLogger({ destination: logSink().stream }),
    metrics: createMetrics(),
  };
}

/** The metrics listener's connection limits, as the defaults of `server:` set them. */
const LIMITS = { maxConnections: 512, headersTimeoutMs: 5000, requestTimeoutMs: 10_000 };

function fullPaths(route: Route): string[] {
  return route.paths.map((p) => (route.root ? p : `${PREFIX}${p}`));
}

describe('the app answers what the table lists', () => {
  test('the table names every endpoint of docs/http-api.md, each path once', () => {
    const paths = table.flatMap(fullPaths);
    expect(new Set(paths).size).toBe(paths.length);
    expect(paths.sort()).toEqual(
      [
        '/auth',
        '/auth/token',
        '/.well-known/jwks.json',
        '/oidc/login',
        '/oidc/callback',
        '/ui',
        '/ui/repository',
        '/ui/tag',
        '/ui/signout',
        '/healthz',
        '/readyz',
        '/metrics',
      ]
        .map((p) => `${PREFIX}${p}`)
        .concat('/v2/_catalog')
        .sort(),
    );
  });

  test('each listed method is answered by its route, not by the unknown-path 404', async () => {
    for (const route of table) {
      for (const path of fullPaths(route)) {
        for (const method of Object.keys(route.methods) as Method[]) {
          const res = await fetch(`${srv.url}${path}`, { method, redirect: 'manual' });
          const text = await res.text();
          const unknown = res.status === 404 && text === JSON.stringify(NOT_FOUND);
          expect(unknown, `${method} ${path}`).toBe(false);
          expect(res.status, `${method} ${path}`).not.toBe(405);
        }
      }
    }
  });

  test('a method a path does not list: the 405 of the table (Allow from it), or the 404', async () => {
    let refused = 0;
    for (const route of table) {
      const listed = Object.keys(route.methods);
      for (const path of fullPaths(route)) {
        for (const method of METHODS.filter((m) => !listed.includes(m))) {
          const res = await fetch(`${srv.url}${path}`, { method });
          const text = await res.text();
          const what = `${method} ${path}`;
          expect(res.headers.get('content-type'), what).toBe('application/json; charset=utf-8');
          if (route.refuse) {
            refused += 1;
            expect(res.status, what).toBe(405);
            expect(res.headers.get('allow'), what).toBe(listed.join(', '));
            // The registry's path says it as the registry does.
            const message =
              route.refuse === 'registry' ? 'The operation is unsupported.' : 'method not allowed';
            if (method !== 'HEAD')
              expect(JSON.parse(text), what).toEqual({ errors: [{ code: 'UNSUPPORTED', message }] });
          } else {
            expect(res.status, what).toBe(404);
            expect(res.headers.get('allow'), what).toBeNull();
            if (method !== 'HEAD') expect(JSON.parse(text), what).toEqual(NOT_FOUND);
          }
        }
      }
    }
    // The token paths and the registry's catalog path refuse: at least their PUTs were seen.
    expect(refused).toBeGreaterThanOrEqual(3);
  });

  test('the token paths: GET and POST, HEAD refused; the catalog: the registry header on its 405', async () => {
    const token = table.find((r) => r.paths.includes('/auth'))!;
    expect(Object.keys(token.methods)).toEqual(['GET', 'POST']);
    expect(token.methods.GET!.errors).toBe('docker');
    expect(token.methods.POST!.errors).toBe('oauth2');
    const put = await fetch(`${srv.url}/v2/_catalog`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    expect(put.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await put.json()).toEqual({
      errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }],
    });
  });

  test('a path in another case or off the prefix is unknown, whatever the method', async () => {
    for (const path of ['/REGAUTH/auth', '/auth', '/regauth/Auth', '/V2/_catalog', '/regauth/v2/_catalog']) {
      for (const method of ['GET', 'PUT'] as const) {
        const res = await fetch(`${srv.url}${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(await res.json()).toEqual(NOT_FOUND);
      }
    }
  });

  test('/ui sends the browser to /ui/, its query kept', async () => {
    const res = await fetch(`${srv.url}${PREFIX}/ui?last=alice%2Fapp`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`${PREFIX}/ui/?last=alice%2Fapp`);
  });

  test('the Express app registers no route of its own: every request goes through the table', () => {
    const app = createApp(deps()) as unknown as { router: { stack: { route?: unknown }[] } };
    expect(app.router.stack.length).toBeGreaterThan(0);
    expect(app.router.stack.filter((layer) => layer.route !== undefined)).toEqual([]);
  });
});

describe('no path is declared outside a route table', () => {
  // Express lives only in src/http (the project's rule), so routes could only be added there.
  const SRC = join(import.meta.dirname, '../../src/http');
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  const sources = files(SRC).map((f) => ({ file: relative(SRC, f), text: readFileSync(f, 'utf8') }));

  test('no Express router, no app.get/post/all/use with a path, anywhere in src/http', () => {
    const routing =
      /\b(?:Router\s*\(|(?:app|router)\.(?:get|post|put|delete|patch|head|all|options|use|route)\(\s*['"`/[])/;
    const offenders = sources.filter((s) => routing.test(s.text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')));
    expect(offenders.map((s) => s.file)).toEqual([]);
  });

  test('`paths:` are declared only in the two tables (the main listener, the metrics listener)', () => {
    const declaring = sources.filter((s) => /\bpaths:\s*\[/.test(s.text)).map((s) => s.file);
    expect(declaring.sort()).toEqual(['metrics.ts', 'routes.ts']);
  });

  test('a path declared twice is refused when the table is compiled', () => {
    const endpoint = getAndHead(() => undefined);
    expect(() =>
      compileRoutes(
        [
          { paths: ['/a'], methods: endpoint },
          { paths: ['/b', '/a'], methods: endpoint },
        ],
        '/p',
      ),
    ).toThrow('route /p/a declared twice');
  });

  test('405 is a RegauthError with its own code', () => {
    const err = new MethodNotAllowedError();
    expect(err).toBeInstanceOf(RegauthError);
    expect(err.code).toBe('ERR_METHOD_NOT_ALLOWED');
  });
});

describe('the metrics listener dispatches from its own table', () => {
  test('GET and HEAD /metrics and /readyz; other methods and paths: JSON 404', async () => {
    const m = await startMetricsServer(createMetrics(), { host: '127.0.0.1', port: 0 }, LIMITS, () =>
      Promise.resolve({ ready: true, checks: {} }),
    );
    try {
      for (const path of ['/metrics', '/readyz']) {
        expect((await fetch(`${m.url}${path}`)).status).toBe(200);
        expect((await fetch(`${m.url}${path}`, { method: 'HEAD' })).status).toBe(200);
        const post = await fetch(`${m.url}${path}`, { method: 'POST' });
        expect(post.status).toBe(404);
        expect(await post.json()).toEqual(NOT_FOUND);
      }
      const failing = await startMetricsServer(createMetrics(), { host: '127.0.0.1', port: 0 }, LIMITS, () =>
        Promise.reject(new Error('probe crashed at /internal/path')),
      );
      try {
        const res = await fetch(`${failing.url}/readyz`);
        expect(res.status).toBe(500);
        const text = await res.text();
        expect(JSON.parse(text)).toEqual({ errors: [{ code: 'UNKNOWN', message: 'internal error' }] });
        expect(text).not.toContain('/internal/path');
      } finally {
        await failing.close();
      }
    } finally {
      await m.close();
    }
  });
});

/**
 * What node's own HTTP layer answers (a header too large, a request it cannot parse, a timeout,
 * an `Expect` it does not know, CONNECT) is JSON as well: the request never reaches a route.
 */
describe('replies written before any route are JSON', () => {
  interface RawReply {
    status: number;
    headers: Record<string, string>;
    body: string;
  }

  /** Writes `request` on a fresh connection and reads until the server closes it. */
  function exchange(url: string, request: string | Buffer): Promise<RawReply> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        const [statusLine = '', ...lines] = text.slice(0, end < 0 ? text.length : end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        resolve({
          status: Number(statusLine.split(' ')[1]),
          headers,
          body: end < 0 ? '' : text.slice(end + 4),
        });
      });
      socket.write(request);
    });
  }

  function expectJsonError(reply: RawReply, status: number, code: string, message: string): void {
    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(reply.headers['connection']).toBe('close');
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(reply.body)));
    expect(JSON.parse(reply.body)).toEqual({ errors: [{ code, message }] });
  }

  const TOO_LARGE = ['SIZE_INVALID', 'request header too large'] as const;
  const MALFORMED = ['BAD_REQUEST', 'malformed request'] as const;

  test('a header over 16 KiB: 431', async () => {
    const reply = await exchange(
      srv.url,
      `GET ${PREFIX}/auth HTTP/1.1\r\nHost: a\r\nX-Long: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expectJsonError(reply, 431, ...TOO_LARGE);
  });

  test('a GET with 60 scopes of the longest repository name: 431', async () => {
    const scope = `repository:${'a'.repeat(255)}:pull,push`;
    const query = Array.from({ length: 60 }, () => `scope=${scope}`).join('&');
    const reply = await exchange(srv.url, `GET ${PREFIX}/auth?${query} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expectJsonError(reply, 431, ...TOO_LARGE);
  });

  test('malformed HTTP and raw non-ASCII bytes in the URL: 400', async () => {
    expectJsonError(await exchange(srv.url, 'GET / HTTP/1.1\r\nHost a\r\n\r\n'), 400, ...MALFORMED);
    expectJsonError(await exchange(srv.url, 'NOT HTTP AT ALL\r\n\r\n'), 400, ...MALFORMED);
    const nonAscii = Buffer.from(`GET ${PREFIX}/auth?account=\xe9 HTTP/1.1\r\nHost: a\r\n\r\n`, 'latin1');
    expectJsonError(await exchange(srv.url, nonAscii), 400, ...MALFORMED);
  });

  test('an Expect other than 100-continue: 417', async () => {
    const reply = await exchange(srv.url, `GET ${PREFIX}/auth HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n`);
    expectJsonError(reply, 417, 'BAD_REQUEST', 'unsupported Expect header');
  });

  test('CONNECT: 405', async () => {
    const reply = await exchange(
      srv.url,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    expectJsonError(reply, 405, 'UNSUPPORTED', 'method not allowed');
  });

  test('a request not sent whole within server.request_timeout: 408', async () => {
    const slow = tempDir();
    const timed = await startTestServer({
      dir: slow.dir,
      config: ({ keyPath, certPath }) =>
        [
          'server:',
          '  headers_timeout: 1',
          '  request_timeout: 1',
          'token:',
          '  issuer: timeout-test',
          `  key: ${keyPath}`,
          `  certificate: ${certPath}`,
          'users: {"": {}}',
          'acl: []',
        ].join('\n') + '\n',
    });
    try {
      const reply = await exchange(timed.url, 'GET /auth HTTP/1.1\r\nHost: a\r\n');
      expectJsonError(reply, 408, 'BAD_REQUEST', 'request timeout');
    } finally {
      await timed.server.close(100);
      slow.cleanup();
    }
  });

  test('the metrics listener cuts off a slow request as the token listener does', async () => {
    // Found by a review: it was made with node's defaults (a header could take 60 s, checked
    // every 30 s) and no max_connections, sharing the process's file descriptors.
    const limits = { maxConnections: 7, headersTimeoutMs: 1000, requestTimeoutMs: 1000 };
    const m = await startMetricsServer(createMetrics(), { host: '127.0.0.1', port: 0 }, limits);
    try {
      expect(m.server.maxConnections).toBe(7);
      const reply = await exchange(m.url, 'GET /metrics HTTP/1.1\r\nHost: a\r\n');
      expectJsonError(reply, 408, 'BAD_REQUEST', 'request timeout');
    } finally {
      await m.close();
    }
  }, 5_000);

  test('the metrics listener answers the same way', async () => {
    const m = await startMetricsServer(createMetrics(), { host: '127.0.0.1', port: 0 }, LIMITS);
    try {
      const big = `GET /metrics HTTP/1.1\r\nHost: a\r\nX-Long: ${'a'.repeat(20_000)}\r\n\r\n`;
      expectJsonError(await exchange(m.url, big), 431, ...TOO_LARGE);
      expectJsonError(await exchange(m.url, 'NOT HTTP AT ALL\r\n\r\n'), 400, ...MALFORMED);
      const expect417 = await exchange(m.url, 'GET /metrics HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n');
      expectJsonError(expect417, 417, 'BAD_REQUEST', 'unsupported Expect header');
      const tunnel = await exchange(
        m.url,
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      );
      expectJsonError(tunnel, 405, 'UNSUPPORTED', 'method not allowed');
    } finally {
      await m.close();
    }
  });

  /** Sends `first` on a connection, then `second` once the first reply has arrived; all that came back. */
  function conversation(url: string, first: string, second: string): Promise<string> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      let text = '';
      let sent = false;
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (!sent && text.includes('\r\n\r\n')) {
          sent = true;
          socket.write(second);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(first);
    });
  }

  test('a malformed request after an answered one on the same connection: JSON 400 too', async () => {
    const text = await conversation(
      srv.url,
      `GET ${PREFIX}/healthz HTTP/1.1\r\nHost: a\r\n\r\n`,
      'GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n',
    );
    const second = text.slice(text.indexOf('HTTP/1.1', 1));
    expect(second).toMatch(/^HTTP\/1\.1 400 /);
    expect(second).toContain('{"errors":[{"code":"BAD_REQUEST","message":"malformed request"}]}');
  });

  test("a CONNECT pipelined behind a request is never taken for that request's reply", async () => {
    const reply = await exchange(
      srv.url,
      // A wrong password: answered after a password comparison, while the CONNECT is parsed.
      `GET ${PREFIX}/auth HTTP/1.1\r\nHost: a\r\nAuthorization: Basic ${Buffer.from('alice:wrong').toString('base64')}\r\n\r\n` +
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    expect(reply.status === 401 || Number.isNaN(reply.status)).toBe(true);
  });

  test('the server keeps serving afterwards', async () => {
    expect((await fetch(`${srv.url}${PREFIX}/healthz`)).status).toBe(200);
  });
});
