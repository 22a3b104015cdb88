import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll } from 'vitest';
import { selfSignedCert } from './certs.js';
import { REPO_ROOT, startHaproxy, type Haproxy } from './deploy.js';
import { freePort } from './ports.js';

/** HAProxy's buffer in the shipped examples/haproxy.cfg (tune.bufsize; HAProxy's default when unset). */
export function shippedBufferSize(): number {
  const config = readFileSync(join(REPO_ROOT, 'examples/haproxy.cfg'), 'utf8');
  return Number(/^\s*tune\.bufsize (\d+)/m.exec(config)?.[1] ?? 16_384);
}

/** A PEM file in `dir` holding a self-signed `localhost` certificate and its key, as HAPROXY_TLS_CERT takes it. */
export async function haproxyTlsPem(dir: string): Promise<string> {
  const cert = await selfSignedCert(dir, 'localhost', '/CN=localhost');
  const pem = join(dir, 'localhost.pem');
  writeFileSync(pem, readFileSync(cert.certPath, 'utf8') + readFileSync(cert.keyPath, 'utf8'));
  return pem;
}

/**
 * A stand-in regauth behind HAProxy that answers /healthz and records, raw, what every other
 * connection carries, so a test can tell which token requests reached it with their body
 * unfinished: a chunked body without its last chunk, or fewer bytes than its Content-Length.
 */
export interface HalfBodyStandIn {
  /** `127.0.0.1:<port>`, for REGAUTH_ADDR. */
  readonly addr: string;
  /** The token requests recorded so far whose body had not ended. */
  halfSent(): string[];
  close(): Promise<void>;
}

export async function startHalfBodyStandIn(): Promise<HalfBodyStandIn> {
  const received: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    const i = received.push('') - 1;
    s.on('error', () => undefined);
    s.on('data', (d) => {
      const text = (received[i] ?? '') + d.toString('latin1');
      received[i] = text;
      if (text.startsWith('GET /healthz'))
        s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    halfSent: () => received.filter(unfinished),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Whether a recorded token request's body had not ended when it stopped. */
function unfinished(r: string): boolean {
  if (!r.startsWith('POST /auth/token')) return false;
  const end = r.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = r.slice(0, end);
  if (/\r\ntransfer-encoding: chunked/i.test(head)) return !r.endsWith('0\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
  return length !== undefined && r.length - end - 4 < Number(length);
}

/** What useHalfBodyHaproxy hands a test file (each once its beforeAll has run). */
export interface HalfBodyHaproxy {
  readonly standIn: HalfBodyStandIn;
  /** HAProxy with TLS (HTTP/2 and HTTP/1.1). */
  readonly tls: Haproxy;
  /** HAProxy without TLS (only with `plain`). */
  readonly plain: Haproxy;
}

/**
 * Sets up, for one test file, the stand-in regauth (startHalfBodyStandIn) behind the shipped
 * examples/haproxy.cfg: HAProxy over TLS (a self-signed certificate in a temporary directory named
 * from `tmpPrefix`) and, with `plain`, HAProxy without TLS first; then 1.5 s for HAProxy's first
 * health check. After the file's tests: both stopped, the stand-in closed, the directory removed.
 */
export function useHalfBodyHaproxy(options: {
  readonly tmpPrefix: string;
  readonly plain?: boolean;
}): HalfBodyHaproxy {
  const dir = mkdtempSync(join(tmpdir(), options.tmpPrefix));
  let standIn: HalfBodyStandIn | undefined;
  let plain: Haproxy | undefined;
  let tls: Haproxy | undefined;

  beforeAll(async () => {
    standIn = await startHalfBodyStandIn();
    const env = { REGISTRY_ADDR: `127.0.0.1:${await freePort()}`, REGAUTH_ADDR: standIn.addr };
    const configPath = join(REPO_ROOT, 'examples/haproxy.cfg');
    if (options.plain) plain = await startHaproxy({ configPath, env });
    tls = await startHaproxy({ configPath, tlsCert: await haproxyTlsPem(dir), env });
    await new Promise((r) => setTimeout(r, 1500));
  }, 60_000);

  afterAll(async () => {
    await plain?.stop();
    await tls?.stop();
    await standIn?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const started = <T>(what: T | undefined, name: string): T => {
    if (what === undefined)
      throw new Error(`useHalfBodyHaproxy: no ${name} (not asked for, or used before beforeAll)`);
    return what;
  };
  return {
    get standIn() {
      return started(standIn, 'stand-in');
    },
    get tls() {
      return started(tls, 'TLS HAProxy');
    },
    get plain() {
      return started(plain, 'plain HAProxy');
    },
  };
}

/**
 * An HTTP/2 session to `haproxy` (with TLS; its certificate not checked) whose socket sends each
 * write at once (TCP_NODELAY): a small write is a DATA frame and a TCP segment of its own.
 */
export function h2SessionNoDelay(haproxy: Haproxy): ClientHttp2Session {
  const session = h2connect(haproxy.url, {
    createConnection: () => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: haproxy.port,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      });
      s.setNoDelay(true);
      return s;
    },
  });
  session.on('error', () => undefined);
  return session;
}

/**
 * Sends a POST with `headers` over `session` whose body never ends: `first` bytes at once, then,
 * after 50 ms, one byte (a DATA frame of its own) every `everyMs` ms for up to 4.5 s (within the
 * shipped `timeout http-request 5s`), until HAProxy answers or a request reaches `standIn`
 * half-sent; then 300 ms more. HAProxy's status (0: none yet), the one-byte frames sent, the ms
 * since the first of them, and the requests that reached the stand-in half-sent meanwhile.
 */
export async function dripBody(
  session: ClientHttp2Session,
  standIn: HalfBodyStandIn,
  options: { readonly headers: OutgoingHttpHeaders; readonly first: number; readonly everyMs: number },
): Promise<{ status: number; frames: number; ms: number; reached: string[] }> {
  const before = standIn.halfSent().length;
  const stream = session.request(options.headers, { endStream: false });
  let status = 0;
  stream.on('response', (h) => (status = Number(h[':status'])));
  stream.on('error', () => undefined);
  stream.resume();
  stream.write('b'.repeat(options.first));
  await new Promise((r) => setTimeout(r, 50));
  let frames = 0;
  const start = Date.now();
  while (Date.now() - start < 4500 && status === 0 && standIn.halfSent().length === before) {
    stream.write('b');
    frames++;
    await new Promise((r) => setTimeout(r, options.everyMs));
  }
  await new Promise((r) => setTimeout(r, 300));
  return { status, frames, ms: Date.now() - start, reached: standIn.halfSent().slice(before) };
}
