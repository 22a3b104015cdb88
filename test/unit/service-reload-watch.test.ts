import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { Reloader } from '../../src/service/reload.js';
import { loadConfigFile } from '../../src/config/load.js';
import { watchConfigFiles } from '../../src/config/watch.js';
import { createRuntime } from '../../src/pipeline/runtime.js';
import { createMetrics } from '../../src/pipeline/metrics.js';
import { RecentDecisions } from '../../src/authz/recent-decisions.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-reload-watch-');
afterAll(() => tmp.cleanup());

test('a file written while a reload loads (after it read the file, before the swap) leads to another reload', async () => {
  // The watcher asks for reloads, and each reload re-arms it. The service's load reads the files
  // synchronously and the swap follows in the same turn, so a re-arm that made new watches closed
  // the old ones before the change's event was read: the event was dropped, and the server kept
  // the config it read before the write. Found by a review.
  const keys = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (issuer: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: ${issuer}, key: ${keys.keyPath}, certificate: ${keys.certPath}}\nacl: []\n`;
  writeFileSync(configFile, config('v1'));
  const first = loadConfigFile(configFile);
  const logger = createLogger({ destination: logSink().stream, format: 'json' });
  let loads = 0;
  const reloader = new Reloader(createRuntime(first, { logger }), {
    configFile,
    load: async () => {
      loads++;
      const read = loadConfigFile(configFile);
      // Another writer's save lands while this load compiles what it read.
      if (loads === 1) writeFileSync(configFile, config('v3'));
      return read;
    },
    runtimeDeps: { logger },
    started: first,
    logger,
    metrics: createMetrics({ defaults: false }),
    recent: new RecentDecisions(0),
  });
  const watcher = watchConfigFiles(() => void reloader.reload().catch(() => undefined), { debounceMs: 100 });
  watcher.watch([configFile]);
  reloader.whenSwapped(() => watcher.watch([configFile]));
  try {
    writeFileSync(configFile, config('v2'));
    for (const end = Date.now() + 3000; Date.now() < end && reloader.current.config.token.issuer !== 'v3';) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(reloader.current.config.token.issuer).toBe('v3');
  } finally {
    watcher.close();
    await reloader.close();
  }
}, 10_000);
