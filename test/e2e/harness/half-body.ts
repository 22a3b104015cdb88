import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { selfSignedCert } from './certs.js';
import { REPO_ROOT } from './deploy.js';

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
