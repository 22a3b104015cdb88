/**
 * docs/configuration.md: every config mistake is a load error naming its YAML path and line, and
 * changes nothing. metrics.addr's port was not checked at load: `validate` and a reload passed
 * `127.0.0.1:99999`, and `serve` then failed naming server.addr, after it had made the development
 * key. Found by a review.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigErrors } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-metrics-addr-');
let keyLines = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  keyLines = `token: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\n`;
});
afterAll(() => tmp.cleanup());

const config = (metricsAddr: string) =>
  `server: {addr: "127.0.0.1:0"}\n${keyLines}users: {}\nacl: []\nmetrics:\n  addr: "${metricsAddr}"\n`;

test('metrics.addr with a port above 65535 is a config error at load (validate), naming metrics.addr and its line', () => {
  let errors: string[] | undefined;
  try {
    loadConfigText(config('127.0.0.1:99999'), { file: join(tmp.dir, 'config.yml') });
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    errors = err.errors.map((e) => `line ${e.line}: ${e.message}`);
  }
  // server.addr's port is checked at load (parseListenAddress); metrics.addr's is not.
  expect(errors).toBeDefined();
  expect(errors!.join('\n')).toMatch(/^line 6: metrics\.addr: /m);
});

test('serve refusing a bad metrics.addr names metrics.addr, not server.addr', async () => {
  const file = join(tmp.dir, 'serve.yml');
  writeFileSync(file, config('127.0.0.1:99999'));
  const log = logSink();
  let message = '';
  try {
    const service = await startService({
      configFile: file,
      logger: createLogger({ destination: log.stream, format: 'json' }),
      watch: false,
    });
    await service.close(10);
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/metrics\.addr/);
  expect(message).not.toMatch(/^server\.addr/);
});
