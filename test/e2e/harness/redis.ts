import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptsConnections, freePort } from './ports.js';
import { pauseProcess, resumeProcess, runCommand, startProcess, type ProcessHandle } from './proc.js';

/** A running test Redis (Debian's redis-server) on 127.0.0.1. */
export interface RedisPeer {
  readonly port: number;
  /** redis://127.0.0.1:port/0 */
  readonly url: string;
  /** The running server's pid (for SIGSTOP in tests), or undefined while stopped. */
  pid(): number | undefined;
  /** Runs redis-cli against it; returns stdout. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server (SIGTERM, by pid); `start()` brings it back on the same port, empty. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that accepts connections but never answers. */
  pause(): void;
  resume(): void;
  logs(): string;
}

/**
 * Starts redis-server on 127.0.0.1 and a free port, from a config file of its own in `dir`
 * (no persistence, no protected mode), as a test peer (scripts/test-peers.sh installs it).
 * With `password`, clients must authenticate (`requirepass`).
 */
export async function startRedis(options: { dir: string; password?: string }): Promise<RedisPeer> {
  mkdirSync(options.dir, { recursive: true });
  const port = await freePort();
  const confPath = join(options.dir, 'redis.conf');
  writeFileSync(
    confPath,
    [
      'bind 127.0.0.1',
      `port ${port}`,
      `dir ${options.dir}`,
      'save ""',
      'appendonly no',
      'daemonize no',
      'protected-mode no',
      'loglevel warning',
      // DEBUG SLEEP makes a slow Redis in tests.
      'enable-debug-command local',
      ...(options.password ? [`requirepass ${options.password}`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  let proc: ProcessHandle | undefined;
  const start = async (): Promise<void> => {
    proc = await startProcess('redis-server', [confPath], {
      timeoutMs: 20_000,
      readyWhen: () => acceptsConnections(port),
      name: 'redis-server',
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    pid: () => (proc && proc.exitStatus() === undefined ? proc.pid : undefined),
    async cli(...args: string[]) {
      const env = options.password ? { REDISCLI_AUTH: options.password } : {};
      const result = await runCommand('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
        timeoutMs: 30_000,
        env,
      });
      if (result.code !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${result.stderr}`);
      return result.stdout.trim();
    },
    stop: async () => {
      await proc?.stop();
    },
    start,
    pause: () => pauseProcess(proc, 'redis-server'),
    resume: () => resumeProcess(proc),
    logs: () => proc?.logs() ?? '',
  };
}
