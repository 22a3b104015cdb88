import { Command } from 'commander';
import { createRequire } from 'node:module';
import { LOG_LEVELS } from '../core/log.js';
import { createLogger, envLogLevel, logWritten, type Logger } from '../core/log.js';
import { startService } from '../service/service.js';
import { directory } from './arguments.js';
import { EXIT, runProgram } from './exit.js';
import { holdSignal, type HeldSignal } from './held-signal.js';
import { addToolCommands } from './tools.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

/** How long in-flight requests may take after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * How long a stopping `serve` waits for the event loop to empty (its log written out) before it
 * exits all the same.
 */
const LOG_FLUSH_MS = 5_000;

/**
 * The whole CLI. `sighup`: SIGHUP as held since the process started (src/cli/main.ts), so that
 * one arriving while `serve` starts is a reload once it has started, not the end of the process.
 */
export function buildProgram(sighup?: HeldSignal): Command {
  const program = new Command();
  program
    .name('regauth')
    .description('Token authentication server for the Docker registry (registry:2, CNCF distribution)')
    .version(version)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('serve')
    .description(
      'run the token server; reloads the config on SIGHUP and when it or a file it names changes (keeps the old one if the new one is invalid); SIGTERM stops gracefully',
    )
    .option('-c, --config <file>', 'config file', 'config.yml')
    .option(
      '--data-dir <dir>',
      'where the development signing key (and refresh-token secret) are created when the config names none',
      directory,
      'data',
    )
    .addHelpText(
      'after',
      `
Environment:
  REGAUTH_LOG_LEVEL  overrides log.level: ${LOG_LEVELS.join(', ')}

Example:
  regauth serve -c /config/config.yml`,
    )
    .action(async (opts: { config: string; dataDir: string }) => {
      // A bad REGAUTH_LOG_LEVEL stops serve (exit 2) before anything is loaded or created.
      envLogLevel();
      const service = await startService({
        configFile: opts.config,
        logger: (config) => createLogger(config.log),
        dataDir: opts.dataDir,
      });
      // reload() logs a failure itself (with the YAML paths) and keeps the current config. A
      // SIGHUP that came while starting reloads now: the file may have changed since it was read.
      (sighup ?? holdSignal('SIGHUP')).release(() => void service.reload().catch(() => undefined));
      // A request must never take the process down: a stray rejection (a backend library's
      // late error) is logged and the server keeps serving.
      process.on('unhandledRejection', (reason) => {
        service.logger.error({ err: reason }, 'unhandled rejection; still serving');
      });
      const stop = (signal: string) => {
        service.logger.info({ signal }, 'shutting down');
        // Stop accepting; in-flight requests get up to 10 s; then backends close, the log is
        // written out, and we exit 0.
        service.close(SHUTDOWN_GRACE_MS).then(
          () => exitAfterLog(0, service.logger),
          () => exitAfterLog(1, service.logger),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

  addToolCommands(program);

  return program;
}

/**
 * Ends the process once the log has written every line (the audit lines of the last requests,
 * and the count of lines it dropped): with everything else closed, the event loop empties then,
 * and node exits with `code`; LOG_FLUSH_MS after the log is written (a handle left open) it exits
 * all the same. Calling process.exit() before the log was written lost lines: pino's last flush
 * at exit writes what waits in its buffer, but not the rest of a write in flight, which the exit
 * cut short (behind a pipe whose reader lags, as a log shipper may), tearing a line. A reader
 * that takes nothing at all holds the exit for ever.
 */
function exitAfterLog(code: number, logger: Logger): void {
  process.exitCode = code;
  void logWritten(logger).then(() => setTimeout(() => process.exit(code), LOG_FLUSH_MS).unref());
}

/**
 * `regauth help keys init` → `regauth keys init --help`: commander's help command passes on only
 * the first name, which would print the `keys` help instead. A name that is no command
 * (`regauth help valdiate`) is run as one, so that commander says `error: unknown command`
 * (it printed the whole usage, exit 2, without a word of what was wrong).
 */
export function nestedHelp(argv: readonly string[], program?: Command): string[] {
  const [node, script, first, ...rest] = argv;
  if (first !== 'help' || rest.length === 0 || rest.some((a) => a.startsWith('-'))) return [...argv];
  // The names that lead to a command; what follows a command without subcommands is its
  // arguments (`regauth help test policy.yml` is test's help, never a run of it).
  const names: string[] = [];
  let command = program;
  for (const name of rest) {
    if (command && command.commands.length === 0) break;
    command = command?.commands.find((c) => c.name() === name || c.aliases().includes(name));
    names.push(name);
    if (program && !command) return [node!, script!, ...names];
  }
  return [node!, script!, ...(program ? names : rest), '--help'];
}

/** Runs the CLI on process.argv; the exit code is the verb's. */
export async function main(sighup?: HeldSignal): Promise<void> {
  // `regauth test … | head`, `regauth validate … 2>&1 | head -1`: a reader that stops early is not
  // an error in itself (as with any Unix tool), on stdout or stderr, and neither is a terminal
  // hung up (EIO on a TTY: the session was lost, and a `keys` step finishing its files after the
  // SIGHUP must not die on its note; EIO on a file is a failing disk, and fails the verb). The
  // rest of the output is dropped; the exit code stays the verb's own, so a failed expectation
  // still fails a pipeline run with pipefail, and an invalid config (2) is not taken for a lint
  // warning (1).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      if (err.code === 'EIO' && stream.isTTY) return;
      throw err;
    });
  }
  const program = buildProgram(sighup);
  const code = await runProgram(program, nestedHelp(process.argv, program), (text) =>
    process.stderr.write(text),
  );
  if (code !== EXIT.ok) process.exitCode = code;
}
