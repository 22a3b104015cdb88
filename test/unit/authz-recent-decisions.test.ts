import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileAcl } from '../../src/authz/acl.js';
import { createLogger } from '../../src/core/log.js';
import { describeComparison, RecentDecisions } from '../../src/authz/recent-decisions.js';
import { startService, type Service } from '../../src/service/service.js';
import { basic, hash, randomPassword, tempDir, writeSigningKey } from '../helpers/fixtures.js';
import { logSink } from '../helpers/server.js';

const scope = (name: string, actions: string[]) => ({ type: 'repository', name, actions });

describe('RecentDecisions', () => {
  const acl = compileAcl([{ match: { name: 'team/**' }, actions: ['pull'], comment: 'pull team' }]);
  const record = (recent: RecentDecisions, account: string, granted: string[] = ['pull', 'push']) =>
    recent.record({
      account,
      labels: {},
      ip: null,
      service: 's',
      scope: scope('team/app', ['pull', 'push']),
      granted,
      byExt: false,
    });

  test('bounded: the oldest distinct decision goes; one seen again becomes the newest', () => {
    const recent = new RecentDecisions(2);
    record(recent, 'a');
    record(recent, 'b');
    record(recent, 'a');
    record(recent, 'c');
    expect(recent.size).toBe(2);
    // b was the oldest: a and c remain, and both lose push under the new ACL.
    const c = recent.compare(acl, () => false);
    expect(c).toMatchObject({ compared: 2, changed: 2, fewer: 2, more: 0 });
    recent.resize(1);
    expect(recent.size).toBe(1);
  });

  test('0 keeps nothing; ext_authz decisions are not kept', () => {
    const off = new RecentDecisions(0);
    record(off, 'a');
    expect(off.size).toBe(0);
    const on = new RecentDecisions(10);
    on.record({
      account: 'a',
      labels: {},
      ip: null,
      service: '',
      scope: scope('x', ['pull']),
      granted: ['pull'],
      byExt: true,
    });
    expect(on.size).toBe(0);
  });

  test('a compared decision holds the new one: the next reload compares with it', () => {
    const recent = new RecentDecisions(10);
    record(recent, 'a');
    expect(describeComparison(recent.compare(acl, () => false))).toBe(
      'reload changes 1 of 1 recent decisions: 1 fewer grants (acl[0] "pull team": 1)',
    );
    expect(describeComparison(recent.compare(acl, () => false))).toBe(
      'reload changes none of 1 recent decisions',
    );
  });
});

describe('on reload, the server compares its recent decisions', () => {
  const tmp = tempDir('regauth-recent-');
  const alice = randomPassword();
  const bob = randomPassword();
  let keys: { keyPath: string; certPath: string };
  afterAll(() => tmp.cleanup());
  beforeAll(async () => {
    keys = await writeSigningKey(tmp.dir);
  });

  const config = (acl: string, recent?: number) => `server: {addr: "127.0.0.1:0"}
token: {issuer: acme, key: ${keys.keyPath}, certificate: ${keys.certPath}}
users:
  alice: {password: "${hash(alice)}", labels: {group: [devs]}}
  bob: {password: "${hash(bob)}"}
${recent === undefined ? '' : `log: {recent_decisions: ${recent}}\n`}acl:
${acl}`;
  const OLD = `  - {match: {labels: {group: devs}, name: "team/**"}, actions: [pull, push], comment: devs push team}
  - {match: {account: bob, name: "bob/**"}, actions: ["*"]}
`;
  const NEW = `  - {match: {labels: {group: devs}, name: "team/**"}, actions: [pull], comment: devs pull team}
  - {match: {account: bob, name: "bob/**"}, actions: ["*"]}
  - {match: {account: bob, name: "team/**"}, actions: [pull]}
`;

  async function run(recent: number | undefined): Promise<{ service: Service; logs: string[] }> {
    const file = join(tmp.dir, `config-${String(recent)}.yml`);
    writeFileSync(file, config(OLD, recent));
    const sink = logSink();
    const service = await startService({
      configFile: file,
      dataDir: join(tmp.dir, 'data'),
      logger: createLogger({ destination: sink.stream, format: 'json' }),
      listen: { host: '127.0.0.1', port: 0 },
      watch: false,
    });
    const get = async (user: string, password: string, s: string) => {
      const res = await fetch(`${service.url}/auth?service=r&scope=${s}`, {
        headers: { authorization: basic(user, password) },
      });
      expect(res.status).toBe(200);
    };
    await get('alice', alice, 'repository:team/app:pull,push');
    await get('alice', alice, 'repository:team/app:pull,push');
    await get('alice', alice, 'repository:team/lib:pull');
    await get('bob', bob, 'repository:team/app:pull');
    await get('bob', bob, 'repository:bob/x:pull,push');
    writeFileSync(file, config(NEW, recent));
    await service.reload();
    return { service, logs: sink.lines };
  }

  test('a summary line and a metric: fewer and more grants, by rule', async () => {
    const { service, logs } = await run(100);
    try {
      const line = logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => String(l['msg']).startsWith('reload changes'));
      expect(line).toMatchObject({
        msg: 'reload changes 2 of 4 recent decisions: 1 fewer grants (acl[0] "devs pull team": 1), 1 more grants (acl[2]: 1)',
        compared: 4,
        changed: 2,
        fewer: 1,
        more: 1,
      });
      const metrics = await service.metrics.registry.metrics();
      expect(metrics).toContain('regauth_reload_decision_changes_total{direction="fewer"} 1');
      expect(metrics).toContain('regauth_reload_decision_changes_total{direction="more"} 1');
      for (const l of logs) for (const p of [alice, bob]) expect(l).not.toContain(p);
    } finally {
      await service.close(100);
    }
  });

  test('off by default: no summary line', async () => {
    const { service, logs } = await run(undefined);
    try {
      expect(logs.some((l) => l.includes('config reloaded'))).toBe(true);
      expect(logs.some((l) => l.includes('recent decisions'))).toBe(false);
    } finally {
      await service.close(100);
    }
  });
});
