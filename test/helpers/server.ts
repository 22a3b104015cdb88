import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import type { AppDeps } from '../../src/http/app.js';
import { createLogger } from '../../src/core/log.js';
import { createRuntime, type Runtime, type RuntimeDeps } from '../../src/pipeline/runtime.js';
import { basic, hash, tempDir, writeSigningKey } from './fixtures.js';

/** A stream that keeps what is written to it, one string per write (one log line each with pino). */
export function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { stream, lines };
}

/**
 * A startTestServer config behind the test's own proxy: 127.0.0.1 is trusted, so each request
 * names its client in X-Forwarded-For (loginStatus); a fresh token key; `sections` (YAML, each
 * line ending in a newline) next; and an ACL that grants every pull.
 */
export function proxiedConfig(sections: string): (keys: { keyPath: string; certPath: string }) => string {
  return ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
${sections}acl: [{match: {}, actions: [pull]}]
`;
}

export interface TestServer {
  readonly server: RunningServer;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly runtime: Runtime;
  /** The log lines written so far. */
  readonly logs: string[];
}

/**
 * The HTTP server on 127.0.0.1 and a free port, in-process, for unit tests: a fresh ES256 key in
 * `dir`, the config `config({keyPath, certPath})` written to `dir/<file>` and loaded as `serve`
 * loads it, the log kept in memory. `runtime` may wrap the loaded runtime (a stand-in backend).
 */
export async function startTestServer(options: {
  readonly dir: string;
  readonly config: (keys: { keyPath: string; certPath: string }) => string;
  readonly file?: string;
  readonly runtimeDeps?: RuntimeDeps;
  readonly runtime?: (loaded: Runtime) => Runtime;
  readonly server?: Omit<AppDeps, 'runtime' | 'logger'>;
}): Promise<TestServer> {
  const keys = await writeSigningKey(options.dir);
  const file = join(options.dir, options.file ?? 'config.yml');
  writeFileSync(file, options.config(keys));
  const loaded = createRuntime(loadConfigFile(file), options.runtimeDeps);
  const runtime = options.runtime ? options.runtime(loaded) : loaded;
  const log = logSink();
  const server = await startServer({
    ...options.server,
    runtime: () => runtime,
    logger: createLogger({ destination: log.stream }),
    listen: { host: '127.0.0.1', port: 0 },
  });
  return { server, url: server.url, runtime, logs: log.lines };
}

/**
 * startTestServer's `config` for one static user, alice with `password`, and no ACL rules, on a
 * free port; `server` lines (`headers_timeout: 1`) go under `server:`.
 */
export function aliceConfig(
  password: string,
  server: readonly string[] = [],
): (keys: { keyPath: string; certPath: string }) => string {
  return ({ keyPath, certPath }) =>
    [
      'server:',
      '  addr: "127.0.0.1:0"',
      ...server.map((line) => `  ${line}`),
      'token:',
      '  issuer: t',
      `  key: ${keyPath}`,
      `  certificate: ${certPath}`,
      'users:',
      '  alice:',
      `    password: "${hash(password)}"`,
      'acl: []',
      '',
    ].join('\n');
}

/**
 * The status of one GET token request to `url` (a startTestServer's) for `account` and
 * `password` from client `ip` (X-Forwarded-For: the test servers that take it trust 127.0.0.1),
 * asking to pull `repository:x`.
 */
export async function loginStatus(
  url: string,
  ip: string,
  account: string,
  password: string,
): Promise<number> {
  const res = await fetch(`${url}/auth?service=registry&scope=repository:x:pull`, {
    headers: { 'x-forwarded-for': ip, authorization: basic(account, password) },
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * A startTestServer for the whole test file, started before its tests and closed after them:
 * one static user, alice with `password`, and an ACL that lets anyone pull anything. The
 * returned function gives the running server.
 */
export function useAliceServer(password: string): () => TestServer {
  const tmp = tempDir();
  let s: TestServer | undefined;
  beforeAll(async () => {
    s = await startTestServer({
      dir: tmp.dir,
      config: ({ keyPath, certPath }) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}
users:
  alice: {password: "${hash(password)}"}
acl: [{match: {}, actions: [pull]}]
`,
    });
  });
  afterAll(async () => {
    await s?.server.close(100);
    tmp.cleanup();
  });
  return () => s!;
}
