import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/**
 * The floor regauth is measured against: a bare node:http server that signs, per request, an
 * ES256 JWT of the same shape as regauth's (header with kid and x5c; iss, sub, aud, exp, nbf, iat,
 * jti, access) and answers with the same JSON. No parsing, no authentication, no ACL, no logging.
 * With `signEach: false` it signs one token at start and answers every request with that reply:
 * what node's HTTP server alone costs per request, with a reply of the same size.
 */
export interface BaselineOptions {
  readonly keyPem: string;
  readonly certPem: string;
  readonly issuer: string;
  /** The kid to put in the header (regauth's is a 59-character libtrust ID). */
  readonly kid: string;
  /** false: one reply made at start, written for every request (default true: a token each). */
  readonly signEach?: boolean;
}

export interface Baseline {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the baseline server on 127.0.0.1 and a free port. */
export async function startBaseline(options: BaselineOptions): Promise<Baseline> {
  const key = createPrivateKey(options.keyPem);
  const x5c = Buffer.from(new X509Certificate(options.certPem).raw).toString('base64');
  const header = b64(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: options.kid, x5c: [x5c] }));
  const reply = (): string => {
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: options.issuer,
      sub: 'alice',
      aud: 'registry.bench',
      exp: now + 900,
      nbf: now,
      iat: now,
      jti: randomBytes(16).toString('base64url'),
      access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }],
    };
    const input = `${header}.${b64(JSON.stringify(payload))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${input}.${signature.toString('base64url')}`;
    return JSON.stringify({
      token,
      access_token: token,
      expires_in: 900,
      issued_at: new Date(now * 1000).toISOString(),
    });
  };
  const stored = options.signEach === false ? reply() : undefined;
  const server: Server = createServer((_req, res) => {
    const body = stored ?? reply();
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64url');
}

// Run as its own process by bench/run.ts (so it gets a core of its own, like regauth):
// options as JSON on stdin, the URL on stdout.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const baseline = await startBaseline(JSON.parse(Buffer.concat(chunks).toString('utf8')) as BaselineOptions);
  process.stdout.write(`${baseline.url}\n`);
}
