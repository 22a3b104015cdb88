/**
 * What `regauth validate` warns of (a rule that can never decide, a pattern docker_auth read
 * otherwise, an issuer without required_claims…) was said by validate only: an operator who
 * moved a docker_auth config over and started `regauth serve` was told nothing, though the ACL
 * could grant what docker_auth never did. serve now logs each warning at start and after every
 * reload that applies a config.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-config-warnings-');
afterAll(() => tmp.cleanup());

test('serve logs the config warnings of validate at start and after a reload', async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (rule: string) =>
    `server: {addr: "127.0.0.1:0"}\ntoken: {issuer: t, key: ${keyPath}, certificate: ${certPath}}\nusers: {alice: {}}\nacl:\n${rule}`;
  writeFileSync(
    configFile,
    config('  - match: {name: "team[-_]*"}\n    actions: ["*"]\n  - match: {}\n    actions: [pull]\n'),
  );
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  const warned = () =>
    log.lines
      .map((l) => JSON.parse(l) as { level: number; path?: string; msg: string })
      .filter((l) => l.level === 40 && l.msg.startsWith('config warning: '));
  try {
    expect(warned()).toEqual([
      expect.objectContaining({
        path: 'acl[0].match.name',
        msg: expect.stringContaining("docker_auth (Go's path.Match) never matched this rule") as string,
      }),
    ]);
    writeFileSync(
      configFile,
      config('  - match: {}\n    actions: [pull]\n  - match: {account: bob}\n    actions: [push]\n'),
    );
    await service.reload();
    expect(warned().slice(1)).toEqual([
      expect.objectContaining({
        path: 'acl[1]',
        msg: expect.stringContaining('never decides') as string,
      }),
    ]);
  } finally {
    await service.close(100);
  }
});
