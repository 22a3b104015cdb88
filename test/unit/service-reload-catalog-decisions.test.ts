import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startService } from '../../src/service/service.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const tmp = tempDir('regauth-r5-reload-');
afterAll(() => tmp.cleanup());

// The catalog's own service is decided by the ACL alone, ext_authz or not: the reload comparison
// (log.recent_decisions) must count its decisions that a reload changes, not skip them as ones
// ext_authz decides.
test('a reload that takes a grant away from the catalog service is counted by the recent-decisions comparison', async () => {
  const keys = await writeSigningKey(tmp.dir);
  const pw = randomPassword();
  const script = join(tmp.dir, 'authz.sh');
  writeFileSync(script, '#!/bin/sh\ncat >/dev/null\nexit 1\n');
  chmodSync(script, 0o755);
  const configFile = join(tmp.dir, 'config.yml');
  const config = (acl: string) => `server: {addr: "127.0.0.1:0"}
token: {issuer: t, key: ${keys.keyPath}, certificate: ${keys.certPath}, services: [reg]}
log: {recent_decisions: 100}
users:
  alice: {password: "${hash(pw)}"}
ext_authz: {command: ${script}}
catalog: {registry_url: "http://127.0.0.1:9", realm: "http://h/auth"}
acl: ${acl}
`;
  writeFileSync(configFile, config('[{match: {service: regauth-catalog}, actions: ["*"]}]'));
  const log = logSink();
  const service = await startService({
    configFile,
    logger: createLogger({ destination: log.stream, format: 'json' }),
    watch: false,
  });
  try {
    const r = await fetch(
      `${service.url}/auth?service=regauth-catalog&scope=${encodeURIComponent('registry:catalog:*')}`,
      { headers: { authorization: basic('alice', pw) } },
    );
    expect(r.status).toBe(200);
    writeFileSync(configFile, config('[]'));
    await service.reload();
    const line = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => 'compared' in l);
    expect(line).toMatchObject({ compared: 1, changed: 1, fewer: 1 });
  } finally {
    await service.close(100);
  }
});
