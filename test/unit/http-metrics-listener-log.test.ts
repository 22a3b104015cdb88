/**
 * The metrics listener (metrics.addr) answered a failure of its own (a readiness probe that
 * threw) with a 500 and wrote no log line: the operator saw scrapes fail and nothing said why.
 * Found by a review of the HTTP endpoints.
 */
import { Writable } from 'node:stream';
import { expect, test } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { startMetricsServer } from '../../src/http/metrics.js';
import { createMetrics } from '../../src/pipeline/metrics.js';

const LIMITS = { maxConnections: 8, headersTimeoutMs: 5000, requestTimeoutMs: 10_000 };

test('a 5xx of the metrics listener is logged', async () => {
  const lines: string[] = [];
  const logger = createLogger({
    format: 'json',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    }),
  });
  const m = await startMetricsServer(
    createMetrics(),
    { host: '127.0.0.1', port: 0 },
    LIMITS,
    () => Promise.reject(new Error('probe exploded')),
    logger,
  );
  try {
    const res = await fetch(`${m.url}/readyz`);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('probe exploded');
    await new Promise((r) => setTimeout(r, 50));
    const logged = lines.map((l) => JSON.parse(l) as { msg?: string; err?: { message?: string } });
    expect(logged.find((l) => l.msg === 'request failed')?.err?.message).toBe('probe exploded');
  } finally {
    await m.close();
  }
});
