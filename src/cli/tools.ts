import { isAccountName } from '../core/account-name.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { isUtf8 } from 'node:buffer';
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { configJsonSchema, SCHEMA_ID } from '../config/json-schema.js';
import { loadConfigFile, developmentKey, namedFiles, type KeyFiles, type Config } from '../config/load.js';
import { closeRuntime, createRuntime, type Runtime } from '../pipeline/runtime.js';
import { UsageError } from '../core/errors.js';
import { makeDirectory } from '../core/mkdir.js';
import { Secret, secretPath } from '../core/secret.js';
import { shellQuote } from '../core/shell.js';
import { ensureDevKeys } from '../token/generate.js';
import { ensureRefreshSecret } from '../token/refresh.js';
import { checkAccess, formatReport, offlineLabels, parseLabelArgs } from '../tools/check.js';
import {
  diagnose,
  formatCheck,
  probeRealm,
  readRegistryConfig,
  type DoctorCheck,
  type RegistryToken,
} from '../tools/doctor.js';
import { DEFAULT_BCRYPT_COST, hashPassword, passwordFromStdin } from '../tools/hash.js';
import { directory } from './arguments.js';
import { progressLine } from './progress.js';
import { typedPassword } from './prompt.js';
import {
  dropKeyLocks,
  KEY_ALGORITHMS,
  keysActivate,
  keysInit,
  keysPublish,
  keysRotate,
  pasteBlocks,
  type ActivateResult,
  type KeyFiles as SigningKeyFiles,
  type RotateResult,
} from '../tools/keys.js';
import { lintConfig } from '../tools/lint.js';
import { formatWhoCan, whoCan } from '../tools/who-can.js';
import {
  formatReplay,
  nothingReplayed,
  progressText,
  replayAudit,
  type AuditSource,
} from '../tools/replay.js';
import {
  describeExpectation,
  formatFailure,
  loadPolicyTests,
  runPolicyTests,
  type PolicyTest,
} from '../tools/policy-test.js';

/** Where the operator tools read and write; injected so tests run them in-process. */
export interface ToolIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** All of stdin (for `hash` and `check --password-stdin`). */
  readonly readStdin: () => Promise<string>;
  /**
   * The password typed at a prompt, without echo, when stdin is a terminal (asked twice with
   * `confirm`); undefined when it is not one, and the verb reads stdin whole. Absent: never a
   * terminal.
   */
  readonly typedPassword?: (confirm: boolean) => Promise<string | undefined>;
  /** stdin as a stream (for `replay --audit -`); default: the process's. */
  readonly stdinStream?: () => AsyncIterable<Buffer | string>;
  /**
   * A progress line for long work (`replay`), rewritten in place; null erases it. Absent when
   * stderr is no terminal: then nothing is shown.
   */
  readonly progress?: (text: string | null) => void;
  /** Records a non-zero exit code (1: a finding or failed expectation). */
  readonly setExitCode: (code: number) => void;
}

/** The most `readStdin` reads (bcrypt uses 72 bytes of a password). */
const STDIN_LIMIT = 64 * 1024;

export const processIO: ToolIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    // A password, read whole: a bound, so that `/dev/zero` piped in is a clear error, not memory.
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of process.stdin) {
      length += (chunk as Buffer).length;
      if (length > STDIN_LIMIT) {
        throw new UsageError(`stdin holds more than ${STDIN_LIMIT / 1024} KiB: a password is far shorter`);
      }
      chunks.push(chunk as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    // Decoding would turn each byte that is not UTF-8 into U+FFFD: two passwords, one hash (and
    // neither could log in: Basic credentials that are not UTF-8 are refused).
    if (!isUtf8(bytes))
      throw new UsageError('the password on stdin is not UTF-8; regauth reads passwords as UTF-8');
    return bytes.toString('utf8');
  },
  typedPassword: (confirm) => (process.stdin.isTTY ? typedPassword(confirm) : Promise.resolve(undefined)),
  ...(process.stderr.isTTY
    ? {
        progress: progressLine((text) => process.stderr.write(text), {
          columns: () => process.stderr.columns,
        }),
      }
    : {}),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/**
 * The password of `hash` and `check --password-stdin`: typed at a prompt on a terminal, else all
 * of stdin less one trailing newline.
 */
async function passwordOf(io: ToolIO, confirm: boolean): Promise<Secret> {
  const typed = await io.typedPassword?.(confirm);
  return new Secret(typed ?? passwordFromStdin(await io.readStdin()));
}

/**
 * Loads a config as `serve` would, for the tools. When it names no signing key, `devKey` stands
 * in when given (doctor: the development key `serve` made), else a throwaway development key
 * (validate, check, test never sign anything the registry sees). Notes about the stand-ins go to
 * stderr, so stdout holds only the verb's answer; `note: false` drops them.
 */
export async function loadForTool(
  file: string,
  io: ToolIO,
  options: { readonly note?: boolean; readonly devKey?: KeyFiles; readonly realKey?: boolean } = {},
): Promise<Config> {
  const note = options.note ?? true;
  // Said once the config has loaded: a file that is no config at all gets its error alone.
  const notes: string[] = [];
  const say = (text: string): void => void (note && notes.push(text));
  const dir = await mkdtemp(join(tmpdir(), 'regauth-tool-'));
  try {
    const named = namedFiles(file);
    // A key named where it does not exist here (a container's /keys, from a checkout): check the
    // rest of the config with a stand-in, and say how the key is made. Doctor needs the real one.
    const key = options.realKey ? undefined : named.signingKey;
    let standIns: Map<string, string> | undefined;
    if (key && missingHere(key.keyPath) && missingHere(key.certificatePath)) {
      const keys = await ensureDevKeys(dir);
      standIns = new Map([
        [key.keyPath, keys.keyPath],
        [key.certificatePath, keys.certPath],
      ]);
      // A key pasted in place of its path is not printed (secretPath).
      const shown = secretPath(key.keyYaml, key.keyWritten) === undefined;
      say(
        shown
          ? `${file}: ${key.keyYaml} ${key.keyPath} does not exist here; checked with a stand-in key (create it with \`regauth keys init --dir ${shellQuote(dirname(key.keyPath))}\`)\n`
          : `${file}: ${key.keyYaml} names no file here (what it holds reads as a key, not a path: it must name the key's file); checked with a stand-in key\n`,
      );
    }
    // Likewise the refresh-token secret (the compose configs name /keys/refresh.key).
    const secret = options.realKey ? undefined : named.refreshSecret;
    if (secret && missingHere(secret)) {
      (standIns ??= new Map()).set(secret, ensureRefreshSecret(join(dir, 'stand-in-refresh.key')).path);
      // Not its path: a secret pasted in its place would be printed.
      say(
        `${file}: token.refresh.secret_file names a file that does not exist here; checked with a stand-in secret (create it with \`openssl rand -base64 48 > FILE\`, FILE the path it names)\n`,
      );
    }
    // No key named: doctor checks the development key `serve` made; the other verbs a throwaway one.
    const devKey = options.devKey
      ? named.namesKey
        ? undefined
        : options.devKey
      : await developmentKey(named, dir, true);
    if (devKey && !options.devKey)
      say(
        `${file}: no token.key; checked with a stand-in key (\`regauth serve\` uses the development key in its --data-dir, default ./data, creating it if needed)\n`,
      );
    // `token.refresh` without secret_file is valid too: `serve` creates a development secret.
    const devRefreshSecret = () => {
      say(
        `${file}: no token.refresh.secret_file; \`regauth serve\` uses the development secret in its --data-dir, default ./data, creating it if needed\n`,
      );
      return ensureRefreshSecret(join(dir, 'refresh.key')).path;
    };
    const config = loadConfigFile(file, {
      ...(devKey ? { devKey } : {}),
      devRefreshSecret,
      ...(standIns ? { standIns } : {}),
    });
    for (const text of notes) io.stderr(text);
    return config;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with the config's backends, then closes them (LDAP connections, the bcrypt pool,
 * ext commands): a verb exits as soon as it has answered, even while a directory is reachable.
 */
async function withRuntime<T>(config: Config, fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = createRuntime(config);
  // An ext command leads a session of its own, which Ctrl-C or a CI job's SIGTERM never reaches:
  // stopped by one, the runtime is closed first (killing what runs), then the process ends by it.
  // Meanwhile the work's outcome is dropped: closing fails what was in flight (an LDAP search),
  // which is no failure of the directory to report. A second signal ends the process at once.
  let stopping: Promise<never> | undefined;
  const end = (signal: NodeJS.Signals) => {
    stopListening();
    process.kill(process.pid, signal);
    // As PID 1 (a container without an init) the signal is ignored: end as it would have.
    setTimeout(() => process.exit(signalExitCode(signal)), 1000);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return end(signal);
    stopping = new Promise<never>(() => undefined);
    void closeRuntime(runtime).finally(() => end(signal));
  };
  const stopListening = () => {
    for (const signal of INTERRUPTS) process.off(signal, onSignal);
  };
  for (const signal of INTERRUPTS) process.on(signal, onSignal);
  let result: T;
  try {
    result = await fn(runtime);
  } catch (err) {
    if (stopping) return stopping;
    throw err;
  } finally {
    if (!stopping) {
      stopListening();
      await closeRuntime(runtime);
    }
  }
  return stopping ?? result;
}

/** The signals that stop a tool from a terminal, a job runner or a lost session. */
const INTERRUPTS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The exit code of a process a signal ended, as a shell reports it: 128 + its number (130 for SIGINT). */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/**
 * Runs a `keys` step with INTERRUPTS held: each file is written whole, but a step stopped between
 * two of them (next.key written, bundle.pem not; bundle.pem replaced, jwks.json not) leaves a
 * rotation half done. A first signal is noted and the step finishes its files, then the process
 * exits as that signal asks (130 for SIGINT); a second SIGINT or SIGTERM stops it at once. A
 * SIGHUP never does: a lost session sends it more than once (the kernel to the session's
 * leader, a shell to its jobs), and nobody is left to mean it.
 */
async function finishingKeyFiles(io: ToolIO, step: () => Promise<void>): Promise<void> {
  let caught: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (caught) {
      if (signal === 'SIGHUP') return;
      // Stopped between its files, as asked: the lock goes, for the next step to find them, and
      // the process ends now (a signal sent again would not end it as PID 1 without an init).
      dropKeyLocks();
      process.exit(signalExitCode(signal));
    }
    caught = signal;
    // To a terminal hung up (SIGHUP), the note fails with EIO, which main() ignores.
    io.stderr(
      `regauth: finishing the key files before stopping (${signal === 'SIGHUP' ? 'Ctrl-C' : signal} again stops at once)\n`,
    );
  };
  const stopListening = () => {
    for (const signal of INTERRUPTS) process.off(signal, onSignal);
  };
  for (const signal of INTERRUPTS) process.on(signal, onSignal);
  try {
    await step();
  } finally {
    stopListening();
  }
  if (caught) io.setExitCode(signalExitCode(caught));
}

/** Collects a repeatable option; `previous` is undefined for the first value when there is no default. */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected an integer');
  return Number(value);
}

/** `-c, --config <file>`, default config.yml: the verbs that read the config `serve` reads. */
function configOption(command: Command, description = 'config file'): Command {
  return command.option('-c, --config <file>', description, 'config.yml');
}

/** `--json`: the verb prints its whole report as one JSON object instead of text. */
function jsonReportOption(command: Command): Command {
  return command.option('--json', 'print the report as one JSON object');
}

/** A report as one indented JSON object (`--json`), else as the verb's text. */
function printReport<T>(
  io: ToolIO,
  report: T,
  json: boolean | undefined,
  format: (report: T) => string,
): void {
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
}

/** `1 warning`, `2 problems`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

const EXIT_CODES_HELP =
  "\nExit codes: 0 ok; 1 a finding (lint warning, failed expectation, doctor problem, failed authentication, a decision replay finds changed); 2 bad usage, an invalid config, a file named that cannot be read or written, or a replay that re-decided nothing; 3 a backend could not answer (a directory down or not trusted over TLS, an ext command failing); 70 a bug in regauth (stderr asks for a report and gives the stack).\nRun `regauth <command> --help` for a command's options and an example.";

/**
 * Adds `validate`, `check`, `test`, `who-can`, `replay`, `hash`, `keys init|rotate|activate`,
 * `schema` and `doctor` to the program, in that order (the order of `--help`).
 */
export function addToolCommands(program: Command, io: ToolIO = processIO): void {
  program.addHelpText('after', EXIT_CODES_HELP);
  addValidate(program, io);
  addCheck(program, io);
  addTest(program, io);
  addWhoCan(program, io);
  addReplay(program, io);
  addHash(program, io);
  addKeys(program, io);
  addSchema(program, io);
  addDoctor(program, io);
}

/** `regauth validate`: load the config, then lint it. */
function addValidate(program: Command, io: ToolIO): void {
  configOption(
    program
      .command('validate')
      .description(
        'load and lint a config: errors name their YAML path and line (exit 2); warnings (exit 1) for rules that never decide, patterns that cannot match or are not globs, labels no backend produces, unknown actions, no authenticator or no ACL rule, a bcrypt cost above 13',
      ),
  )
    .addHelpText('after', '\nExample:\n  regauth validate -c config.yml')
    .action(async (opts: { config: string }) => {
      const config = await loadForTool(opts.config, io);
      const warnings = lintConfig(config);
      for (const w of warnings) io.stdout(`warning: ${w.path === '' ? '' : `${w.path}: `}${w.message}\n`);
      if (warnings.length > 0) {
        io.stdout(`${opts.config}: valid, with ${count(warnings.length, 'warning')}\n`);
        io.setExitCode(1);
      } else io.stdout(`${opts.config}: ok\n`);
    });
}

interface CheckOptions {
  readonly config: string;
  readonly account: string;
  readonly scope: string[];
  readonly service?: string;
  readonly ip?: string;
  readonly label: string[];
  readonly passwordStdin?: boolean;
  readonly json?: boolean;
}

/** `regauth check`: what would be granted for each scope, and which rule decided. */
function addCheck(program: Command, io: ToolIO): void {
  configOption(
    program
      .command('check')
      .description('what would be granted for each scope, and which rule decided (index and comment)'),
  )
    .requiredOption('--account <name>', 'the account asking (required; "" for anonymous)')
    .requiredOption(
      '--scope <scope>',
      'a scope, e.g. repository:team/app:push,pull (required; repeatable, at least one)',
      collect,
    )
    .option(
      '--service <name>',
      'the requested service (token audience); default: the one token.services lists (required when it lists several)',
    )
    .option(
      '--ip <address>',
      'the client address (without it, rules on ip match nothing, and a note names those passed over)',
    )
    .option(
      '--label <key=value>',
      "a label as an authenticator would report it (repeatable); without it (and without --password-stdin), the labels the config's users: or users_file hold for the account",
      collect,
      [],
    )
    .option(
      '--password-stdin',
      "read the account's password on stdin (at a prompt, not echoed, when stdin is a terminal) and run the real authenticators",
    )
    .option('--json', 'print one JSON object per scope: {scope, granted, rule, authorizer}')
    .addHelpText(
      'after',
      `
Examples:
  regauth check -c config.yml --account alice --scope repository:team/app:push,pull
  printf '%s' "$PASSWORD" | regauth check -c config.yml --account alice --password-stdin \\
    --scope repository:alice/app:push --json`,
    )
    .action((opts: CheckOptions) => runCheck(opts, io));
}

async function runCheck(opts: CheckOptions, io: ToolIO): Promise<void> {
  const config = await loadForTool(opts.config, io, { note: !opts.json });
  const password = opts.passwordStdin ? await passwordOf(io, false) : undefined;
  const result = await withRuntime(config, (runtime) =>
    checkAccess(
      runtime,
      {
        account: opts.account,
        scopes: opts.scope,
        ...(opts.label.length > 0 ? { labels: parseLabelArgs(opts.label) } : {}),
        ...(opts.service === undefined ? {} : { service: opts.service }),
        ...(opts.ip === undefined ? {} : { ip: opts.ip }),
        ...(password ? { password } : {}),
      },
      (text) => io.stderr(`${text}\n`),
    ),
  );
  if (result.outcome === 'unauthenticated') {
    io.stderr(`regauth: authentication failed for ${JSON.stringify(opts.account)}: ${result.reason}\n`);
    io.setExitCode(1);
    return;
  }
  if (result.labelsNote !== undefined) io.stderr(`${result.labelsNote}\n`);
  for (const report of result.scopes) {
    io.stdout(opts.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  }
}

/** `regauth test`: policy expectations for CI. */
function addTest(program: Command, io: ToolIO): void {
  configOption(
    program
      .command('test')
      .description('run policy expectations (a YAML list) against a config; exit 1 if any fails'),
  )
    .argument(
      '<tests>',
      'policy test file: - {account, scope, expect: [actions], labels?, service?, ip?, comment?}',
    )
    .addHelpText(
      'after',
      `
Example policy-tests.yml:
  - {account: alice, scope: "repository:alice/app:push,pull", expect: [pull, push]}
  - {account: bob, labels: {group: [devs]}, scope: "repository:team/app:push", expect: []}

  regauth test -c config.yml policy-tests.yml`,
    )
    .action(async (testsFile: string, opts: { config: string }) => {
      const config = await loadForTool(opts.config, io, { note: false });
      const tests = loadPolicyTests(testsFile);
      noteUnknownLabels(config, tests, io);
      const results = await withRuntime(config, (runtime) =>
        runPolicyTests(runtime, tests, (test, text) =>
          io.stderr(`note: ${describeExpectation(test)}: ${text}\n`),
        ),
      );
      const failed = results.filter((r) => !r.passed);
      for (const r of failed) io.stdout(`${formatFailure(r)}\n`);
      io.stdout(`${results.length - failed.length} passed, ${failed.length} failed\n`);
      if (failed.length > 0) io.setExitCode(1);
    });
}

/** A note for each expectation whose account's labels only a live backend would know. */
function noteUnknownLabels(config: Config, tests: readonly PolicyTest[], io: ToolIO): void {
  for (const t of tests) {
    // A name no login can use is decided by its 400, whatever the labels.
    if (!isAccountName(t.account)) continue;
    const unknown = t.labels === undefined ? offlineLabels(config, t.account).unknownFrom : [];
    if (unknown.length > 0) {
      io.stderr(
        `note: ${t.path}${t.line === undefined ? '' : ` (line ${t.line})`} ${JSON.stringify(t.account)}: not in users: or users_file, and the labels ${unknown.join(', ')} would give are not known offline; checked with none (give them in the expectation's labels:)\n`,
      );
    }
  }
}

/** `regauth who-can`: the rules that can decide a scope. */
function addWhoCan(program: Command, io: ToolIO): void {
  jsonReportOption(
    configOption(
      program
        .command('who-can')
        .description(
          'the rules that can decide a scope (grant it or deny it), in order, with the accounts each covers: static accounts by name, other backends as conditions; shadowed rules marked',
        )
        .argument('<scope>', 'a scope, e.g. repository:prod/api:push'),
    )
      .option('--service <name>', 'decide rules on service for this service (otherwise they are conditions)')
      .option('--ip <address>', 'decide rules on ip for this client address (otherwise they are conditions)'),
  )
    .addHelpText(
      'after',
      `
Example:
  regauth who-can repository:prod/api:push -c config.yml
  regauth who-can registry:catalog:* -c config.yml --json`,
    )
    .action(
      async (scope: string, opts: { config: string; service?: string; ip?: string; json?: boolean }) => {
        const config = await loadForTool(opts.config, io, { note: false });
        const report = whoCan(config, {
          scope,
          ...(opts.service === undefined ? {} : { service: opts.service }),
          ...(opts.ip === undefined ? {} : { ip: opts.ip }),
        });
        printReport(io, report, opts.json, formatWhoCan);
      },
    );
}

interface ReplayOptions {
  readonly audit: string[];
  readonly config: string;
  readonly against?: string;
  readonly json?: boolean;
}

/** `regauth replay`: which recorded decisions a new config changes. */
function addReplay(program: Command, io: ToolIO): void {
  jsonReportOption(
    configOption(
      program
        .command('replay')
        .description(
          'replay audit log lines against a new config: the decisions that change (granted before and not now, and the reverse), by rule and by account; exit 1 when any changes, 2 when nothing could be re-decided',
        )
        .requiredOption(
          '--audit <file>',
          'audit log: JSON lines as regauth writes them, plain or gzip; - for stdin (required; repeatable)',
          collect,
        ),
      'the new config',
    ).option('--against <file>', 'the old config (default: the decisions recorded in the lines)'),
  )
    .addHelpText(
      'after',
      `
Each distinct (account, labels, client address and proxy, grant, service, scope) is decided again. Labels of
static accounts come from the configs; those of other backends are not in the audit line, so a
decision that depends on them is listed as not re-decided rather than guessed.

Examples:
  regauth replay --audit audit.log --audit audit.log.1.gz -c new.yml
  journalctl -u regauth -o cat | regauth replay --audit - -c new.yml --against config.yml --json`,
    )
    .action(async (opts: ReplayOptions) => {
      const sources = auditSources(opts.audit, io);
      const config = await loadForTool(opts.config, io, { note: false });
      const against = opts.against ? await loadForTool(opts.against, io, { note: false }) : undefined;
      const { progress } = io;
      let report;
      try {
        report = await replayAudit(sources, {
          config,
          ...(against ? { against } : {}),
          ...(progress
            ? {
                onProgress: (lines, file) => progress(progressText(lines, file)),
              }
            : {}),
        });
      } finally {
        progress?.(null);
      }
      printReport(io, report, opts.json, formatReplay);
      // A run that compared nothing must not pass a gate as "no decision changes".
      const nothing = nothingReplayed(report);
      if (nothing !== undefined) {
        io.stderr(`regauth: ${nothing}\n`);
        io.setExitCode(2);
      } else if (report.changes.length > 0) io.setExitCode(1);
    });
}

/** Why `path` cannot be looked at here (ENOENT, EACCES, …), or undefined when it can. */
function statCode(path: string): string | undefined {
  try {
    statSync(path);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

const MISSING = new Set(['ENOENT', 'ENOTDIR']);

/**
 * Whether `path` does not exist here: a file this user may not reach (EACCES: a key directory of
 * another user) exists, and is read, and refused, as `serve` would.
 */
function missingHere(path: string): boolean {
  const code = statCode(path);
  return code !== undefined && MISSING.has(code);
}

/** The `--audit` files (`-`: stdin, at most once); a missing file is a usage error. */
function auditSources(files: readonly string[], io: ToolIO): AuditSource[] {
  for (const file of files) {
    if (file === '-') continue;
    const code = statCode(file);
    if (code !== undefined) {
      throw new UsageError(
        `--audit ${file}: ${MISSING.has(code) ? 'no such file' : `cannot be read (${code})`}`,
      );
    }
  }
  if (files.filter((f) => f === '-').length > 1) throw new UsageError('--audit - given twice');
  const stdin = io.stdinStream ?? (() => process.stdin);
  return files.map((f) => (f === '-' ? { name: '(stdin)', open: stdin } : { name: f }));
}

/** `regauth hash`: bcrypt a password read on stdin. */
function addHash(program: Command, io: ToolIO): void {
  program
    .command('hash')
    .description(
      'read a password on stdin (never argv; asked twice, not echoed, on a terminal) and print a bcrypt hash for users: or htpasswd',
    )
    .addOption(new Option('--cost <n>', 'bcrypt cost (4-31)').default(DEFAULT_BCRYPT_COST).argParser(integer))
    .addHelpText(
      'after',
      `
The hash starts with $2b$; regauth, docker_auth and the registry's htpasswd accept it like $2y$.

Example:
  printf '%s' "$PASSWORD" | regauth hash --cost 12`,
    )
    .action(async (opts: { cost: number }) => {
      const password = await passwordOf(io, true);
      io.stdout(`${await hashPassword(password, opts.cost)}\n`);
    });
}

const PUBLISH_HELP =
  'also write bundle.pem and jwks.json, and nothing else, into this directory (created 0755 when missing): give the registry this one, not --dir, which holds the private keys';

/** `regauth keys init|rotate|activate|publish`: the signing key and its rotation. */
function addKeys(program: Command, io: ToolIO): void {
  const keys = program
    .command('keys')
    .description('create and rotate the token signing key (rotate, then activate)')
    .addHelpText(
      'after',
      '\nExample:\n  regauth keys init --dir /etc/regauth/keys\n  regauth keys rotate --dir /etc/regauth/keys\n  # restart the registry with the new bundle.pem, then:\n  regauth keys activate --dir /etc/regauth/keys',
    );
  addKeysInit(keys, io);
  addKeysRotate(keys, io);
  addKeysActivate(keys, io);
  addKeysPublish(keys, io);
}

function addKeysInit(keys: Command, io: ToolIO): void {
  keys
    .command('init')
    .description(
      'write a signing key (0600), a self-signed certificate valid for ten years, the registry bundle and a JWKS (registry v3), then print the config blocks to paste',
    )
    .requiredOption(
      '--dir <dir>',
      'directory for token.key, token.pem, bundle.pem and jwks.json (required)',
      directory,
    )
    .addOption(new Option('--alg <alg>', 'key algorithm').choices(KEY_ALGORITHMS).default('ES256'))
    .option('--publish <dir>', PUBLISH_HELP, directory)
    .addHelpText(
      'after',
      '\nExample:\n  regauth keys init --dir /etc/regauth/keys --alg ES256\n  regauth keys init --dir /etc/regauth/keys --publish /etc/registry/trust',
    )
    .action((opts: { dir: string; alg: 'ES256' | 'RS256'; publish?: string }) =>
      finishingKeyFiles(io, async () => {
        const files = await keysInit(opts.dir, { alg: opts.alg, ...publishOption(opts) });
        io.stdout(`wrote ${files.key} (0600), ${files.certificate}, ${files.bundle}, ${files.jwks}\n`);
        io.stdout(`${publishedLine(files)}\n`);
        io.stdout(pasteBlocks(files, await readFile(files.certificate, 'utf8')));
      }),
    );
}

function addKeysRotate(keys: Command, io: ToolIO): void {
  keys
    .command('rotate')
    .description(
      'step 1 of 2: write a next key (next.key, next.pem) and put it in bundle.pem / jwks.json beside the current one; regauth keeps signing with the current key',
    )
    .requiredOption('--dir <dir>', 'the directory `keys init` wrote (required)', directory)
    .addOption(
      new Option('--alg <alg>', "key algorithm (default: the current key's)").choices(KEY_ALGORITHMS),
    )
    .option('--publish <dir>', PUBLISH_HELP, directory)
    .addHelpText(
      'after',
      `
Rotation has two steps, so that no token is ever signed by a key the registry does not trust:
  1. regauth keys rotate: token.key is unchanged; bundle.pem and jwks.json now hold the current
     key, the next key and (after an earlier activation) the previous one. Install them on the
     registry (auth.token.rootcertbundle, auth.token.jwks) and restart it.
  2. regauth keys activate: the next key becomes token.key, the current one previous.key;
     regauth reloads and signs with the new key. Tokens signed before stay valid until they
     expire (the previous certificate stays in the bundle).
Check between the steps with \`regauth doctor\`. While a rotation is pending, rotate refuses to
run again (the registry may already trust that next key). With --publish DIR2 each step also
copies bundle.pem and jwks.json to the registry's own directory (\`regauth keys publish\` copies
them again, after a step that ran without it).

Example:
  regauth keys rotate --dir /etc/regauth/keys
  # install /etc/regauth/keys/bundle.pem on the registry, restart it, then:
  regauth keys activate --dir /etc/regauth/keys
  # or, with a directory the registry reads:
  regauth keys rotate --dir /etc/regauth/keys --publish /etc/docker/registry/trust`,
    )
    .action((opts: { dir: string; alg?: 'ES256' | 'RS256'; publish?: string }) =>
      finishingKeyFiles(io, async () => {
        const files = await keysRotate(opts.dir, {
          ...(opts.alg ? { alg: opts.alg } : {}),
          ...publishOption(opts),
        });
        io.stdout(rotatedMessage(files, opts.dir, opts.publish));
      }),
    );
}

/** What `keys rotate` wrote, and the steps that remain. */
function rotatedMessage(files: RotateResult, dir: string, publish: string | undefined): string {
  const trust = files.published ?? files;
  return (
    `wrote the next key ${files.nextKey} (0600) and ${files.nextCertificate}; regauth still signs with ${files.key}\n` +
    `${files.bundle} and ${files.jwks} now hold the current and the next key` +
    `${files.keptPrevious ? ` and the previous one (${files.previousCertificate})` : ''}.\n` +
    `${publishedLine(files)}\n` +
    `Next:\n` +
    `  1. install ${trust.bundle} (auth.token.rootcertbundle) and ${trust.jwks} (auth.token.jwks) on the registry; restart it\n` +
    `  2. check: regauth doctor -c CONFIG --registry-config REGISTRY_CONFIG\n` +
    `  3. regauth keys activate --dir ${shellQuote(dir)}${publish === undefined ? '' : ` --publish ${shellQuote(publish)}`}\n`
  );
}

const publishOption = (opts: { publish?: string }) =>
  opts.publish === undefined ? {} : { publish: opts.publish };

/** The published copies, when --publish asked for them (else an empty line). */
function publishedLine(files: SigningKeyFiles): string {
  return files.published
    ? `copied ${files.published.bundle} and ${files.published.jwks} for the registry (public files only)\n`
    : '';
}

function addKeysActivate(keys: Command, io: ToolIO): void {
  keys
    .command('activate')
    .description(
      'step 2 of 2: sign with the next key from `keys rotate`; the current key becomes previous.key and stays in bundle.pem / jwks.json',
    )
    .requiredOption('--dir <dir>', 'the directory `keys rotate` wrote the next key to (required)', directory)
    .option('--publish <dir>', PUBLISH_HELP, directory)
    .addHelpText(
      'after',
      `
Run it once the registry has been restarted with the bundle \`keys rotate\` wrote (regauth doctor
says so). next.key becomes token.key and next.pem token.pem; regauth reloads on the file change
(or on SIGHUP) and signs with the new key from then on. The old key moves to previous.key and its
certificate stays in bundle.pem and jwks.json, so tokens it signed are accepted until they expire;
a key retired by an earlier activation leaves the bundle now (activate at most once per token
lifetime, token.expiration).

Example:
  regauth keys activate --dir /etc/regauth/keys
  regauth keys activate --dir /etc/regauth/keys --publish /etc/docker/registry/trust`,
    )
    .action((opts: { dir: string; publish?: string }) =>
      finishingKeyFiles(io, async () => {
        io.stdout(activatedMessage(await keysActivate(opts.dir, publishOption(opts))));
      }),
    );
}

function addKeysPublish(keys: Command, io: ToolIO): void {
  keys
    .command('publish')
    .description(
      "write bundle.pem and jwks.json for the keys as they stand (current, next while a rotation is pending, previous) into --dir and the registry's own directory; changes no key",
    )
    .requiredOption('--dir <dir>', 'the directory `keys init` wrote (required)', directory)
    .requiredOption(
      '--publish <dir>',
      'the directory the registry reads (created 0755 when missing; never the key directory) (required)',
      directory,
    )
    .addHelpText(
      'after',
      `
For a step run without --publish, or whose copy failed, and to give a new registry directory its
first copy. It changes no key.

Example:
  regauth keys publish --dir /etc/regauth/keys --publish /etc/docker/registry/trust`,
    )
    .action((opts: { dir: string; publish: string }) =>
      finishingKeyFiles(io, async () => {
        io.stdout(publishedLine(await keysPublish(opts.dir, opts.publish)));
      }),
    );
}

/** Which key `keys activate` made current, and which left the bundle. */
function activatedMessage(files: ActivateResult): string {
  return (
    `${files.key} is now the key with kid ${files.kid}; regauth signs with it once it reloads (file change or SIGHUP)\n` +
    (files.retiredKid ? `the old key (kid ${files.retiredKid}) is ${files.previousKey}; ` : '') +
    `${files.bundle} and ${files.jwks} hold ${files.retiredKid ? 'both' : 'it'}\n` +
    (files.droppedKid
      ? `the key retired by the last activation (kid ${files.droppedKid}) has left the bundle\n`
      : '') +
    publishedLine(files)
  );
}

/** `regauth schema`: the config's JSON Schema for editors. */
function addSchema(program: Command, io: ToolIO): void {
  program
    .command('schema')
    .description(
      "print the config's JSON Schema (draft 2020-12) for editors: completion, inline errors, hover text",
    )
    .addHelpText(
      'after',
      `
The same schema ships as schema/config.schema.json. Point an editor with the YAML language
server (VS Code's YAML extension, JetBrains, Neovim) at it with a first line in config.yml:
  # yaml-language-server: $schema=./config.schema.json
It checks shapes, defaults and enums; \`regauth validate\` also checks files, keys and patterns.

Example:
  regauth schema > config.schema.json`,
    )
    .option(
      '-o, --output <file>',
      'write the schema to this file (its folder is created) instead of stdout; a file there that is no schema regauth wrote is left as it is (exit 2)',
    )
    .action(async (opts: { output?: string }) => {
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
      if (opts.output === undefined) return io.stdout(text);
      const output = opts.output;
      const before = await readFile(output, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return '';
        throw new UsageError(
          `--output ${output}: cannot be read (${err.code ?? 'EIO'}); nothing was written`,
        );
      });
      if (before.trim() !== '' && !sameSchemaId(before, SCHEMA_ID)) {
        throw new UsageError(
          `--output ${output}: holds something other than regauth's config schema, and was left as it is; remove it first, or name another file`,
        );
      }
      await makeDirectory(dirname(resolve(output)));
      // In place, as a link leads (no file made beside it, whose name someone could have taken).
      await writeFile(output, text);
    });
}

/** Whether `text` is a JSON Schema with this `$id` (a schema regauth wrote, of any version). */
function sameSchemaId(text: string, id: string): boolean {
  try {
    return (JSON.parse(text) as { $id?: unknown }).$id === id;
  } catch {
    return false;
  }
}

interface DoctorOptions {
  readonly config: string;
  readonly registryConfig: string;
  readonly dataDir: string;
  readonly probe?: boolean;
}

/** `regauth doctor`: does the registry trust regauth? */
function addDoctor(program: Command, io: ToolIO): void {
  configOption(
    program
      .command('doctor')
      .description(
        "check that the registry trusts regauth: auth holds token alone, issuer, service, rootcertbundle and how tokens name the key (registry 2.8 and v3), the realm's path or autoredirect (--probe: that regauth answers there), certificate validity, v3 jwks and signingalgorithms",
      ),
  )
    .requiredOption('--registry-config <file>', "the registry's config.yml (required)")
    .option(
      '--data-dir <dir>',
      'where `regauth serve --data-dir` keeps the development key; checked when the config names no token.key',
      directory,
      'data',
    )
    .addHelpText(
      'after',
      `
Without token.key (or server.key) in the config, doctor checks the development key that
\`regauth serve\` created in --data-dir (token.key, token.pem); if there is none, that is a finding.

Example:
  regauth doctor -c config.yml --registry-config /etc/docker/registry/config.yml`,
    )
    .option(
      '--probe',
      'also ask the realm URL for a token, as a client would, to check that regauth answers there',
    )
    .action((opts: DoctorOptions) => runDoctor(opts, io));
}

async function runDoctor(opts: DoctorOptions, io: ToolIO): Promise<void> {
  const registry = readRegistryConfig(opts.registryConfig);
  // The development key `regauth serve --data-dir` signs with, when the config names no key.
  const dir = resolve(opts.dataDir);
  const devKey = await developmentKey(namedFiles(opts.config), dir, false);
  if (devKey) {
    if (missingHere(devKey.keyPath) || missingHere(devKey.certificatePath)) {
      io.stdout(
        `${formatCheck({
          name: 'signing key',
          ok: false,
          message: `no token.key and no development key in ${dir}`,
          fix: `start regauth once (\`regauth serve -c ${shellQuote(opts.config)} --data-dir ${shellQuote(opts.dataDir)}\` creates it), or run \`regauth keys init --dir DIR\` and set token.key and token.certificate`,
        })}\n1 problem found\n`,
      );
      io.setExitCode(1);
      return;
    }
    io.stdout(`${opts.config}: no token.key; checking the development key in ${dir}\n`);
  }
  const config = await loadForTool(opts.config, io, { realKey: true, ...(devKey ? { devKey } : {}) });
  const checks = await probeIfAsked(diagnose(config, registry), registry.token, opts.probe);
  for (const check of checks) io.stdout(`${formatCheck(check)}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  io.stdout(failed === 0 ? 'the registry trusts regauth\n' : `${count(failed, 'problem')} found\n`);
  if (failed > 0) io.setExitCode(1);
}

/**
 * `doctor --probe`: when the realm's path is regauth's, ask it for a token and put that answer in
 * place of the offline realm check.
 */
async function probeIfAsked(
  checks: DoctorCheck[],
  token: RegistryToken,
  probe: boolean | undefined,
): Promise<DoctorCheck[]> {
  const realm = token.realm;
  if (!probe || typeof realm !== 'string' || !checks.some((c) => c.name === 'realm' && c.ok)) return checks;
  const service = typeof token.service === 'string' ? token.service : undefined;
  const probed = await probeRealm(realm, service);
  return checks.map((c) => (c.name === 'realm' ? probed : c));
}
