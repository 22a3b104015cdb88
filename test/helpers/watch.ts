import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { expect } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import type { Runtime } from '../../src/pipeline/runtime.js';
import { startService } from '../../src/service/service.js';
import { writeSigningKey } from './fixtures.js';
import { logSink } from './server.js';
import { until } from './wait.js';

export { sleep, until } from './wait.js';

/** An editor's save: a new file renamed over the old one. */
export function save(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/**
 * regauth serving `configFile` with its file watcher on (100 ms debounce), its first config
 * (`config('v1')`, the issuer telling versions apart) written into `realDir`: the file's own
 * directory unless the test reaches it through a link. A fresh key in `root`/`name`-keys.
 */
export async function watchedService(
  root: string,
  name: string,
  configFile: string,
  realDir = dirname(configFile),
) {
  mkdirSync(join(root, `${name}-keys`));
  const keys = await writeSigningKey(join(root, `${name}-keys`));
  const config = (issuer: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: ${issuer}, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n`;
  mkdirSync(realDir, { recursive: true });
  writeFileSync(join(realDir, basename(configFile)), config('v1'));
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watchDebounceMs: 100,
  });
  const failed = () => log.lines.some((l) => l.includes('config reload failed'));
  const reloads = () => log.lines.filter((l) => l.includes('"config reloaded"')).length;
  return { config, log, service, failed, reloads };
}

/** Waits (3 s at most) until `service` serves the config whose issuer is `issuer`, and expects it. */
export async function servesIssuer(service: { runtime(): Runtime }, issuer: string): Promise<void> {
  await until(() => service.runtime().config.token.issuer === issuer, 3000);
  expect(service.runtime().config.token.issuer).toBe(issuer);
}
