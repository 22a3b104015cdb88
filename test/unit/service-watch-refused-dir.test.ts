import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { save, sleep, until, watchedService } from '../helpers/watch.js';

const tmp = tempDir('regauth-watch-refused-dir-');
afterAll(() => tmp.cleanup());

test('a refused config naming a busy directory as users_file does not reload over and over', async () => {
  // The operator mistypes users_file as a directory (EISDIR) that another program keeps writing
  // in (a spool, a log directory). A failed reload watches the refused config's files, and the
  // watcher's drift check fingerprinted the directory by its times, which move with every entry
  // made: each failed reload found it "drifted" and asked for another, a failed reload (an error
  // line and a failure count) every debounce period for as long as the directory was busy. Found
  // by a review.
  const configFile = join(tmp.dir, 'svc', 'config.yml');
  const { config, service, failed, log } = await watchedService(tmp.dir, 'svc', configFile);
  const busy = join(tmp.dir, 'spool');
  mkdirSync(busy);
  // Another program, writing in it every few milliseconds.
  const writer = spawn(
    'sh',
    ['-c', 'while :; do : > "$1/job"; rm -f "$1/job"; sleep 0.003; done', 'sh', busy],
    {
      stdio: 'ignore',
    },
  );
  try {
    save(configFile, `${config('v2')}users_file: ${busy}\n`);
    await until(failed, 3000);
    expect(failed()).toBe(true);
    await sleep(3000);
    const failures = log.lines.filter((l) => l.includes('config reload failed')).length;
    // Nothing the config names changed after the first failure: one failed reload, not a storm.
    expect(failures).toBeLessThanOrEqual(2);
  } finally {
    writer.kill();
    await service.close(100);
  }
}, 15_000);
