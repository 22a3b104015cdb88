/**
 * The metrics as a real Prometheus (Debian's `prometheus`, installed by scripts/test-peers.sh)
 * scrapes and stores them: the metrics listener (`metrics.addr`) is a healthy target, the
 * counters it stores move with the token requests made, and a label built from config text (an
 * ACL rule's comment, with quotes, a backslash and a line break) arrives as written. Prometheus
 * asks for OpenMetrics first; regauth answers its text format, which Prometheus takes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { basic, hash, randomPassword } from '../helpers/fixtures.js';
import { freePort } from './harness/ports.js';
import { startProcess, waitFor, type ProcessHandle } from './harness/proc.js';
import { startRegauth, type RegauthStack } from './harness/stack.js';

const COMMENT = 'alice pulls "team" \\ only\nsecond line';

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

describe('metrics scraped by a real Prometheus', () => {
  const password = randomPassword();
  let s: RegauthStack;
  let prometheus: ProcessHandle;
  let promUrl = '';

  const query = async (expr: string): Promise<Sample[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  };
  const token = (auth: string) =>
    fetch(`${s.regauth.url}/auth?service=registry&scope=repository:team/app:pull,push`, {
      headers: { authorization: auth },
    }).then(async (r) => {
      await r.body?.cancel();
      return r.status;
    });

  beforeAll(async () => {
    const metricsPort = await freePort();
    s = await startRegauth({
      name: 'prometheus',
      token: '  services: [registry]',
      config: `metrics: {addr: "127.0.0.1:${metricsPort}"}
users:
  alice: {password: "${hash(password)}"}
acl:
  - match: {account: alice}
    actions: [pull]
    comment: ${JSON.stringify(COMMENT)}
`,
      serviceOptions: { watch: false },
    });
    // Three tokens (each denies push: one denial each), two wrong passwords.
    for (let i = 0; i < 3; i++) expect(await token(basic('alice', password))).toBe(200);
    for (let i = 0; i < 2; i++) expect(await token(basic('alice', `${password}x`))).toBe(401);

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const config = join(s.tmp.dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: regauth
    static_configs: [{targets: ["127.0.0.1:${metricsPort}"]}]
`,
    );
    prometheus = await startProcess(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(s.tmp.dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      {
        name: 'prometheus',
        timeoutMs: 30_000,
        readyWhen: async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.status === 200,
      },
    );
    // Scraped at least once since the requests above.
    await waitFor(async () => (await query('up{job="regauth"}')).length === 1, 30_000, 'a first scrape');
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await s?.stop();
  });

  test('the metrics listener is a healthy target', async () => {
    const res = await fetch(`${promUrl}/api/v1/targets`);
    const targets = (
      (await res.json()) as {
        data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
      }
    ).data.activeTargets;
    expect(targets.map((t) => ({ url: t.scrapeUrl, health: t.health, error: t.lastError }))).toEqual([
      { url: `${s.regauth.metricsUrl}/metrics`, health: 'up', error: '' },
    ]);
  });

  test('the stored counters are the requests made', async () => {
    const byOutcome = Object.fromEntries(
      (await query('regauth_token_requests_total{job="regauth"}')).map((r) => [
        r.metric['outcome'],
        r.value[1],
      ]),
    );
    expect(byOutcome).toMatchObject({ granted: '3', denied: '2' });
  });

  test('a label from config text arrives as written', async () => {
    const denials = await query('regauth_authz_denials_total{job="regauth"}');
    expect(
      denials.map((r) => ({ rule: r.metric['rule'], comment: r.metric['comment'], n: r.value[1] })),
    ).toEqual([{ rule: '0', comment: COMMENT, n: '3' }]);
  });

  test('no password reaches a stored series', async () => {
    const series = await fetch(`${promUrl}/api/v1/series?match[]=${encodeURIComponent('{job="regauth"}')}`);
    const text = await series.text();
    expect(text.length).toBeGreaterThan(1000);
    expect(text).not.toContain(password);
  });
});
