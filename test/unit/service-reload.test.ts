import { existsSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { Reloader } from '../../src/service/reload.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createRuntime } from '../../src/pipeline/runtime.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { RecentDecisions } from '../../src/authz/recent-decisions.js';
import { hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-reload-');

/**
 * A service on `configFile` logging JSON to a sink (`log`); `warnings()`: the key and message of
 * each warn line.
 */
async function startLogged(configFile: string, dataDir?: string) {
  const log = logSink();
  const service = await startService({
    configFile,
    ...(dataDir === undefined ? {} : { dataDir }),
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  const warnings = () =>
    log.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      // The warnings of regauth validate are logged too (service-config-warnings.test.ts).
      .filter((l) => l['level'] === 40 && !String(l['msg']).startsWith('config warning: '))
      .map((l) => ({ key: l['key'], msg: l['msg'] }));
  return { service, log, warnings };
}
afterAll(() => tmp.cleanup());

test('a reload that changes a key applied only at start warns, naming the key and that a restart applies it', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (server: string, extra = '') =>
    `server: {${server}}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n${extra}`;
  writeFileSync(configFile, config('addr: "127.0.0.1:0", path_prefix: /a'));
  const { service, warnings } = await startLogged(configFile);
  try {
    // Another issuer only: applied by the reload, nothing to warn about.
    writeFileSync(
      configFile,
      config('addr: "127.0.0.1:0", path_prefix: /a').replace('issuer: t', 'issuer: u'),
    );
    await service.reload();
    expect(service.runtime().config.token.issuer).toBe('u');
    expect(warnings()).toEqual([]);

    writeFileSync(
      configFile,
      config(
        'addr: "localhost:0", path_prefix: /b',
        'metrics: {addr: "127.0.0.1:0"}\nlockout: {max_entries: 20000}\n',
      ),
    );
    await service.reload();
    expect(warnings()).toEqual(
      ['server.addr', 'server.path_prefix', 'metrics.addr', 'lockout.max_entries'].map((key) => ({
        key,
        msg: `${key} changed; it applies at start only, so the running server keeps the old value until regauth is restarted`,
      })),
    );
  } finally {
    await service.close(100);
  }
});

test('store: its connection applies at start only (a reload warns); on_store_error applies at once', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'store.yml');
  const config = (store: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\nstore: ${store}\n`;
  writeFileSync(configFile, config('{type: memory}'));
  const { service, warnings } = await startLogged(configFile);
  try {
    const warned = () => warnings().map((w) => w.key);
    writeFileSync(configFile, config('{type: memory, on_store_error: fail_open}'));
    await service.reload();
    expect(service.runtime().config.store.onStoreError).toBe('fail_open');
    expect(warned()).toEqual([]);
    writeFileSync(configFile, config('{type: redis, url: "redis://127.0.0.1:9/0"}'));
    await service.reload();
    expect(warned()).toEqual(['store']);
  } finally {
    await service.close(100);
  }
});

test('an address that cannot be listened on is an error naming server.addr or metrics.addr', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    const configFile = join(tmp.dir, 'listen.yml');
    const write = (server: string, extra = '') =>
      writeFileSync(
        configFile,
        `server: {${server}}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {}\nacl: []\n${extra}`,
      );
    write(`addr: "127.0.0.1:${port}"`);
    await expect(startLogged(configFile)).rejects.toThrow(
      new RegExp(`^server\\.addr: cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`),
    );
    write('addr: "127.0.0.1:0"', `metrics: {addr: "127.0.0.1:${port}"}\n`);
    await expect(startLogged(configFile)).rejects.toThrow(
      new RegExp(`^metrics\\.addr: cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`),
    );
  } finally {
    taken.close();
  }
});

test('a reload that no longer names token.key keeps the key: no development key is made or used', async () => {
  // A config cut short (a writer that stalls, `>>` in steps, SIGHUP mid-write) still loads; without
  // this check the server switched to a new development key the registry never trusted, and wrote
  // it into the data directory. Found by an adversarial review.
  const keys = await writeSigningKey(tmp.dir, 'ES256');
  const dataDir = join(tmp.dir, 'reload-data');
  const full = `server: {addr: "127.0.0.1:0"}
token:
  issuer: regauth
  key: ${keys.keyPath}
  certificate: ${keys.certPath}
users: {"": {}}
acl: [{match: {}, actions: [pull]}]
`;
  const configFile = join(tmp.dir, 'reload-cut.yml');
  writeFileSync(configFile, full);
  const { service, log } = await startLogged(configFile, dataDir);
  try {
    const kid = service.runtime().config.token.key.kid;
    writeFileSync(configFile, full.slice(0, full.indexOf('  key:')));
    await expect(service.reload()).rejects.toThrow(/token\.key: .*development key/);
    expect(existsSync(join(dataDir, 'token.key'))).toBe(false);
    expect(service.runtime().config.token.key.kid).toBe(kid);
    expect(log.lines.join('')).toContain('config reload failed; keeping the current config');
    // The whole file again: reloads as before.
    writeFileSync(configFile, full);
    await service.reload();
    expect(service.runtime().config.token.key.kid).toBe(kid);
  } finally {
    await service.close(100);
  }
});

test('a reload never lets an account that had a password log in without one', async () => {
  // A config cut short between a user's labels and its password loads as a user without one, who
  // takes any password (as in docker_auth). Found by the config review.
  const keys = await writeSigningKey(tmp.dir, 'ES256');
  const secret = randomPassword();
  const full = `server: {addr: "127.0.0.1:0"}
token: {issuer: regauth, key: ${keys.keyPath}, certificate: ${keys.certPath}}
acl: [{match: {}, actions: [pull]}]
users:
  guest: {}
  admin:
    labels: {group: [admins]}
    password: "${hash(secret)}"
`;
  const configFile = join(tmp.dir, 'reload-cut-user.yml');
  writeFileSync(configFile, full);
  const { service, log } = await startLogged(configFile);
  try {
    writeFileSync(configFile, full.slice(0, full.indexOf('    password:')));
    const refused =
      'users.admin.password: not set; a reload never serves an account without a password that the running config does not serve so, unless written as {} (a file cut short between its labels and its password reads so): give it one, or restart regauth to serve "admin" without one';
    await expect(service.reload()).rejects.toThrow(refused);
    expect(service.runtime().config.users?.get('admin')?.passwordHash).toBeDefined();
    expect(log.lines.join('')).not.toContain(secret);
    // Removing the account (and guest, who never had a password, stays) reloads ...
    writeFileSync(configFile, full.slice(0, full.indexOf('  admin:')));
    await service.reload();
    expect(service.runtime().config.users?.has('admin')).toBe(false);
    expect(service.runtime().config.users?.has('guest')).toBe(true);
    // ... and the file cut short again, as a writer that stalls twice leaves it, is still refused.
    writeFileSync(configFile, full.slice(0, full.indexOf('    password:')));
    await expect(service.reload()).rejects.toThrow(refused);
    // An account added in that same write, cut short the same way (found by a review of the
    // first version of this check, which guarded only accounts that had had a password).
    writeFileSync(configFile, `${full}  admin2:\n    labels: {group: [admins]}\n`);
    await expect(service.reload()).rejects.toThrow(refused.replaceAll('admin', 'admin2'));
    expect(service.runtime().config.users?.has('admin2')).toBe(false);
    // An account written bare, `"": {}` (allowing anonymous requests), is no file cut short (found
    // by the second review: it was refused, with advice to give it a password).
    writeFileSync(configFile, full.replace('users:\n', 'users:\n  "": {}\n'));
    await service.reload();
    expect(service.runtime().config.users?.has('')).toBe(true);
    // But the anonymous account can have a password (Basic ":pw") and labels: cut short between
    // them, it would give every request without credentials its labels (found by the third
    // review).
    const anonymous = `  "":\n    labels: {group: [admins]}\n    password: "${hash(randomPassword())}"\n`;
    writeFileSync(configFile, full.replace('users:\n', `users:\n${anonymous}`));
    await service.reload();
    writeFileSync(
      configFile,
      full.replace('users:\n', `users:\n${anonymous.slice(0, anonymous.indexOf('    password:'))}`),
    );
    await expect(service.reload()).rejects.toThrow('users[""].password: not set;');
    expect(service.runtime().config.users?.get('')?.passwordHash).toBeDefined();
  } finally {
    await service.close(100);
  }
});

test('a burst of reloads while one runs loads once more, not once per request', async () => {
  // A SIGHUP flood (or a watcher firing in a loop) queued one reload per signal, without limit:
  // 9 GB of memory in a review's run. Those asked while one waits to start share it.
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'burst.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n`,
  );
  const config = loadConfigFile(configFile);
  let loads = 0;
  const metrics = createMetrics({ defaults: false });
  const reloader = new Reloader(
    createRuntime(config, { logger: createLogger({ destination: logSink().stream, format: 'json' }) }),
    {
      configFile,
      load: async () => {
        loads++;
        await new Promise((r) => setTimeout(r, 20));
        return loadConfigFile(configFile);
      },
      runtimeDeps: { logger: createLogger({ destination: logSink().stream, format: 'json' }) },
      started: config,
      logger: createLogger({ destination: logSink().stream, format: 'json' }),
      metrics,
      recent: new RecentDecisions(0),
    },
  );
  try {
    const first = reloader.reload();
    // Loading now (its 20 ms): what is asked next waits for it.
    await new Promise((r) => setTimeout(r, 5));
    const burst = Array.from({ length: 500 }, () => reloader.reload());
    await Promise.all([first, ...burst]);
    // The one running, and one more for everything asked meanwhile.
    expect(loads).toBe(2);
    // A reload asked after those is a new one.
    await reloader.reload();
    expect(loads).toBe(3);
  } finally {
    await reloader.close();
  }
});

test('the metrics listener takes server.max_connections and its deadlines, at start and on reload', async () => {
  // Found by a review: metrics.addr's listener was made with node's defaults (a header could take
  // 60 s) and no connection cap, though both listeners take the process's file descriptors.
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'metrics-limits.yml');
  const config = (server: string) =>
    `server: {addr: "127.0.0.1:0", ${server}}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\nmetrics: {addr: "127.0.0.1:0"}\n`;
  writeFileSync(configFile, config('headers_timeout: 1, request_timeout: 1'));
  const { service } = await startLogged(configFile);
  const port = Number(new URL(service.metricsUrl!).port);
  /** A connection sending half a header: what it was answered, and whether it was closed. */
  const halfHeader = () =>
    new Promise<{ reply: string }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.on('data', (d: Buffer) => (reply += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ reply }));
      socket.write('GET /metrics HTTP/1.1\r\nHost: a\r\n');
      setTimeout(() => socket.destroy(), 4000);
    });
  try {
    expect((await halfHeader()).reply).toMatch(/^HTTP\/1\.1 408 /);
    writeFileSync(configFile, config('max_connections: 1'));
    await service.reload();
    const held = connect(port, '127.0.0.1');
    await new Promise((r) => held.once('connect', r));
    try {
      // Past the cap a connection is closed at once, unanswered.
      expect(await halfHeader()).toEqual({ reply: '' });
    } finally {
      held.destroy();
    }
  } finally {
    await service.close();
  }
}, 15_000);

test('a reload still loading when the reloader closes swaps nothing in, and what it made is closed', async () => {
  // A SIGTERM during a reload: close() closed the runtimes it knew, then the reload swapped in a
  // runtime nobody would close (its backends' pools and commands left open).
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'closing.yml');
  writeFileSync(
    configFile,
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nusers: {alice: {password: "${hash(randomPassword())}"}}\nacl: []\n`,
  );
  const config = loadConfigFile(configFile);
  let loads = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  /** How many runtimes had their backends closed (closeRuntime asks each for `close`). */
  const closed = new Set<unknown>();
  const logger = createLogger({ destination: logSink().stream, format: 'json' });
  const runtimeDeps = {
    logger,
    instrument: <T extends object>(authenticator: T): T => {
      const tag = {};
      return new Proxy(authenticator, {
        get(target, prop) {
          if (prop === 'close') closed.add(tag);
          return Reflect.get(target, prop, target) as unknown;
        },
      });
    },
  };
  const first = createRuntime(config, runtimeDeps);
  const reloader = new Reloader(first, {
    configFile,
    load: async () => {
      loads++;
      await gate;
      return loadConfigFile(configFile);
    },
    runtimeDeps,
    started: config,
    logger,
    metrics: createMetrics({ defaults: false }),
    recent: new RecentDecisions(0),
  });
  const reloading = reloader.reload().catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 10));
  const closing = reloader.close();
  release();
  await Promise.all([reloading, closing]);
  expect(reloader.current).toBe(first);
  // The first runtime's backends, and those of the runtime the reload made: both closed.
  expect(closed.size).toBe(2);
  // A reload asked for once closed loads nothing.
  await reloader.reload().catch(() => undefined);
  expect(loads).toBe(1);
});

test('a reload serves a new account without a password only when written bare, as {}', async () => {
  // Found by the fourth review: tools that sort keys write `labels: {}` before `password`, so a
  // cut there made an anonymous account with a password open to every request; and after a
  // reload that removed it, one that had had a password counted as new. A file cut short never
  // reads as `{}` (a bare `name:` is null, refused), so only that form is let through.
  const keys = await writeSigningKey(tmp.dir, 'ES256');
  const head = `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: regauth, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: [{match: {account: ""}, actions: [pull]}]\n`;
  const sorted = `${head}users:\n  '':\n    labels: {}\n    password: "${hash(randomPassword())}"\n`;
  const configFile = join(tmp.dir, 'bare.yml');
  writeFileSync(configFile, `${head}users: {}\n`);
  const { service } = await startLogged(configFile);
  const users = () => service.runtime().config.users;
  try {
    writeFileSync(configFile, sorted.slice(0, sorted.indexOf('    password:')));
    await expect(service.reload()).rejects.toThrow('users[""].password: not set;');
    // Two steps: the account there with its password, then gone, then cut short.
    writeFileSync(configFile, sorted);
    await service.reload();
    writeFileSync(configFile, head);
    await service.reload();
    writeFileSync(configFile, sorted.slice(0, sorted.indexOf('    password:')));
    await expect(service.reload()).rejects.toThrow('users[""].password: not set;');
    expect(users()).toBeUndefined();
    // Written bare, a new account without a password is served: anonymous or named.
    writeFileSync(configFile, `${head}users:\n  "": {}\n  guest: {}\n`);
    await service.reload();
    expect(users()?.get('')?.passwordHash).toBeUndefined();
    expect(users()?.get('guest')?.passwordHash).toBeUndefined();
  } finally {
    await service.close(100);
  }
});
