import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-');
afterAll(() => tmp.cleanup());

const until = async (done: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end && !done();) {
    await new Promise((r) => setTimeout(r, 50));
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(name: string, configFile: string, realDir: string) {
  mkdirSync(join(tmp.dir, `${name}-keys`));
  const keys = await writeSigningKey(join(tmp.dir, `${name}-keys`));
  const config = (issuer: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: ${issuer}, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n`;
  mkdirSync(realDir, { recursive: true });
  writeFileSync(join(realDir, 'config.yml'), config('v1'));
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watchDebounceMs: 100,
  });
  const failed = () => log.lines.some((l) => l.includes('config reload failed'));
  return { config, service, failed, log };
}

test('a config directory moved away (mv regauth regauth.old) and a new one made: its config reloads', async () => {
  // The usual directory swap (mv conf conf.old; mv conf.new conf, or mv + mkdir + template).
  // The watch on the directory follows the moved inode; its only event names the directory
  // itself, which the name filter dropped: no reload, no re-arm, the new directory was never
  // watched. Found by a review, as below.
  const dir = join(tmp.dir, 'moved');
  const configFile = join(dir, 'config.yml');
  const { config, service } = await start('moved', configFile, dir);
  try {
    renameSync(dir, `${dir}.old`);
    await sleep(600);
    mkdirSync(dir);
    writeFileSync(configFile, config('v2'));
    await until(() => service.runtime().config.token.issuer === 'v2', 3000);
    expect(service.runtime().config.token.issuer).toBe('v2');
  } finally {
    await service.close(100);
  }
}, 15_000);

test('a symlinked config directory whose release is deleted and made again: its config reloads', async () => {
  // current -> releases/42; rm -rf releases/42 (the reload fails), then releases/42 made again.
  // The re-arm found current/ "missing" (dangling link) and watched the parent for "current",
  // whose entry never changes: creating the link's target was never seen.
  const release = join(tmp.dir, 'releases', '42');
  const link = join(tmp.dir, 'current');
  mkdirSync(release, { recursive: true });
  symlinkSync(release, link);
  const { config, service, failed } = await start('linked', join(link, 'config.yml'), release);
  try {
    rmSync(release, { recursive: true });
    await until(failed, 3000);
    expect(failed()).toBe(true);
    mkdirSync(release);
    writeFileSync(join(release, 'config.yml'), config('v2'));
    await until(() => service.runtime().config.token.issuer === 'v2', 3000);
    expect(service.runtime().config.token.issuer).toBe('v2');
  } finally {
    await service.close(100);
  }
}, 15_000);
