import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../../src/core/log.js';

/** A stand-in for pino's asynchronous destination that records what it is handed. */
function recorder() {
  const writes: string[] = [];
  let synced = 0;
  return {
    writes,
    synced: () => synced,
    destination: {
      destroyed: false,
      write: (text: string) => (writes.push(text), true),
      flush: (cb?: (err?: Error) => void) => cb?.(),
      flushSync: () => void synced++,
    },
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatch', () => {
  it('hands the lines of one event-loop turn to the destination as one write, in order', async () => {
    const r = recorder();
    const batch = new TurnBatch(r.destination);
    const lines = Array.from({ length: 50 }, (_, i) => `{"n":${i}}\n`);
    for (const line of lines) batch.write(line);
    await Promise.resolve();
    expect(r.writes).toEqual([]);
    await nextTurn();
    expect(r.writes).toEqual([lines.join('')]);
    batch.write('{"n":50}\n');
    await nextTurn();
    expect(r.writes).toEqual([lines.join(''), '{"n":50}\n']);
    await nextTurn();
    expect(r.writes).toHaveLength(2);
  });

  it('writes waiting lines at once on flushSync and flush', async () => {
    const r = recorder();
    const batch = new TurnBatch(r.destination);
    batch.write('a\n');
    batch.flushSync();
    expect(r.writes).toEqual(['a\n']);
    expect(r.synced()).toBe(1);
    batch.write('b\n');
    await new Promise<void>((resolve) => batch.flush(() => resolve()));
    expect(r.writes).toEqual(['a\n', 'b\n']);
    await nextTurn();
    expect(r.writes).toHaveLength(2);
  });

  it('writes nothing, and does not throw, once the destination is closed', async () => {
    const r = recorder();
    const batch = new TurnBatch({ ...r.destination, destroyed: true });
    batch.write('a\n');
    await nextTurn();
    batch.flushSync();
    expect(r.writes).toEqual([]);
    expect(r.synced()).toBe(0);
  });
});

describe('createLogger on stdout', () => {
  const log = fileURLToPath(new URL('../../src/core/log.ts', import.meta.url));
  const run = (script: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, REGAUTH_LOG_LEVEL: '' },
    });

  it('writes every line of the turn the process exits in, in order', () => {
    // process.exit() in the very turn the lines were logged: they wait in the turn's batch and
    // in sonic-boom's buffer, and must still come out.
    const out = run(
      `const { createLogger } = await import(${JSON.stringify(log)});
       const logger = createLogger({ format: 'json' });
       for (let i = 0; i < 500; i++) logger.info({ n: i }, 'line');
       setImmediate(() => {
         for (let i = 500; i < 1000; i++) logger.info({ n: i }, 'line');
         process.exit(0);
       });`,
    );
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const lines = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { n: number; msg: string });
    expect(lines.map((l) => l.n)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(lines.every((l) => l.msg === 'line')).toBe(true);
  });

  it('writes the lines of a process that ends on its own', () => {
    const out = run(
      `const { createLogger } = await import(${JSON.stringify(log)});
       const logger = createLogger({ format: 'json' });
       logger.info({ n: 1 }, 'first');
       setTimeout(() => logger.info({ n: 2 }, 'last'), 20);`,
    );
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg),
    ).toEqual(['first', 'last']);
  });
});
