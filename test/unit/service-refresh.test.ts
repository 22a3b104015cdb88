import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigErrors } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const password = randomPassword();

describe('regauth serve in development: `refresh: {}` without secret_file', () => {
  test('creates data/refresh.key (0600) once, and its tokens survive a reload and a restart', async () => {
    const configFile = join(tmp.dir, 'config.yml');
    writeFileSync(
      configFile,
      `server:\n  addr: "127.0.0.1:0"\ntoken:\n  issuer: dev\n  refresh: {}\nusers:\n  alice:\n    password: "${hash(password)}"\n`,
    );
    const logs: string[] = [];
    const start = () =>
      startService({
        configFile,
        dataDir: join(tmp.dir, 'data'),
        logger: createLogger({
          destination: new Writable({
            write(chunk, _e, cb) {
              logs.push(String(chunk));
              cb();
            },
          }),
        }),
      });
    const secretPath = join(tmp.dir, 'data', 'refresh.key');

    let service = await start();
    const secret = readFileSync(secretPath, 'utf8');
    expect(statSync(secretPath).mode & 0o777).toBe(0o600);
    expect(logs.filter((l) => l.includes('created a development refresh-token secret'))).toHaveLength(1);

    const login = await fetch(`${service.url}/auth?offline_token=true&client_id=docker&service=reg`, {
      headers: { authorization: basic('alice', password) },
    });
    const { refresh_token: refreshToken } = (await login.json()) as { refresh_token: string };
    const redeem = (url: string) =>
      fetch(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          service: 'reg',
        }),
      });

    await service.reload();
    expect((await redeem(service.url)).status).toBe(200);
    await service.close(100);

    service = await start();
    try {
      expect((await redeem(service.url)).status).toBe(200);
      expect(readFileSync(secretPath, 'utf8')).toBe(secret);
      expect(logs.filter((l) => l.includes('created a development refresh-token secret'))).toHaveLength(1);
      expect(logs.join('')).not.toContain(secret.trim());
    } finally {
      await service.close(100);
    }
  });
});

describe('regauth serve on an invalid config', () => {
  const badAcl = 'acl:\n  - match: { name: "/[/" }\n    actions: [pull]\n';
  test.each([
    ['a bad acl rule', `token: { issuer: x, refresh: {} }\n${badAcl}`],
    ['a bad acl rule, with a key of its own', `token: { issuer: x, refresh: {}, __KEY__ }\n${badAcl}`],
    ['an empty file', ''],
    ['server: 5', 'server: 5\n'],
  ])('%s: refuses it and writes nothing in the data folder', async (what, yaml) => {
    const dir = join(tmp.dir, what.replace(/\W+/g, '-'));
    mkdirSync(dir);
    const { keyPath, certPath } = await writeSigningKey(dir);
    const configFile = join(dir, 'config.yml');
    writeFileSync(configFile, yaml.replace('__KEY__', `key: ${keyPath}, certificate: ${certPath}`));
    const dataDir = join(dir, 'data');
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    await expect(startService({ configFile, dataDir, logger, watch: false })).rejects.toBeInstanceOf(
      ConfigErrors,
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  test.each([
    ['empty strings', '""'],
    ['YAML null', '~'],
  ])(
    'server.key and server.certificate as %s are unset: the development key is made',
    async (what, value) => {
      const dir = join(tmp.dir, `unset-${what.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      const configFile = join(dir, 'config.yml');
      writeFileSync(
        configFile,
        `server: {addr: "127.0.0.1:0", certificate: ${value}, key: ${value}}\ntoken: {issuer: x}\nusers: {}\nacl: []\n`,
      );
      const dataDir = join(dir, 'data');
      const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
      const service = await startService({ configFile, dataDir, logger, watch: false });
      await service.close();
      expect(existsSync(join(dataDir, 'token.key'))).toBe(true);
    },
  );

  test('a valid config still starts where the temporary folder cannot be used', async () => {
    const dir = join(tmp.dir, 'no-tmpdir');
    mkdirSync(dir);
    const configFile = join(dir, 'config.yml');
    writeFileSync(
      configFile,
      'server: {addr: "127.0.0.1:0"}\ntoken: {issuer: x, refresh: {}}\nusers: {}\nacl: []\n',
    );
    const dataDir = join(dir, 'data');
    const logger = createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = join(dir, 'missing');
    try {
      const service = await startService({ configFile, dataDir, logger, watch: false });
      await service.close();
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
    expect(existsSync(join(dataDir, 'token.key'))).toBe(true);
  });
});
