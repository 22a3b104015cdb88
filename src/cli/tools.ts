import { Command, InvalidArgumentError, Option } from 'commander';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { configJsonSchema } from '../config/json-schema.js';
import { loadConfigFile, namesSigningKey, type Config } from '../config/load.js';
import { createRuntime } from '../runtime.js';
import { Secret } from '../secret.js';
import { ensureDevKeys } from '../token/generate.js';
import { ensureRefreshSecret } from '../token/refresh.js';
import { checkAccess, CheckUsageError, formatReport, parseLabelArgs } from '../tools/check.js';
import { diagnose, formatCheck, readRegistryConfig } from '../tools/doctor.js';
import { DEFAULT_BCRYPT_COST, hashPassword, HashInputError, passwordFromStdin } from '../tools/hash.js';
import { keysInit, keysRotate, KeysUsageError, pasteBlocks } from '../tools/keys.js';
import { lintConfig } from '../tools/lint.js';
import { formatWhoCan, whoCan } from '../tools/who-can.js';
import { formatReplay, replayAudit, type AuditSource } from '../tools/replay.js';
import { formatFailure, loadPolicyTests, runPolicyTests } from '../tools/policy-test.js';

/** Where the operator tools read and write; injected so tests run them in-process. */
export interface ToolIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** All of stdin (for `hash` and `check --password-stdin`). */
  readonly readStdin: () => Promise<string>;
  /** stdin as a stream (for `replay --audit -`); default: the process's. */
  readonly stdinStream?: () => AsyncIterable<Buffer | string>;
  /** Records a non-zero exit code (1: a finding or failed expectation). */
  readonly setExitCode: (code: number) => void;
}

/** A problem with how a verb was called (exit code 2); main.ts prints `regauth: <message>`. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const processIO: ToolIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** A signing key and its certificate on disk. */
interface KeyFiles {
  readonly keyPath: string;
  readonly certificatePath: string;
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
  options: { readonly note?: boolean; readonly devKey?: KeyFiles } = {},
): Promise<Config> {
  const note = options.note ?? true;
  const dir = await mkdtemp(join(tmpdir(), 'regauth-tool-'));
  try {
    let devKey: KeyFiles | undefined;
    if (!namesSigningKey(file)) {
      if (options.devKey) devKey = options.devKey;
      else {
        const keys = await ensureDevKeys(dir);
        if (note)
          io.stderr(
            `${file}: no token.key; checked with a stand-in key (\`regauth serve\` uses the development key in its --data-dir, default ./data, creating it if needed)\n`,
          );
        devKey = { keyPath: keys.keyPath, certificatePath: keys.certPath };
      }
    }
    // `token.refresh` without secret_file is valid too: `serve` creates a development secret.
    const devRefreshSecret = () => {
      if (note) {
        io.stderr(
          `${file}: no token.refresh.secret_file; \`regauth serve\` uses the development secret in its --data-dir, default ./data, creating it if needed\n`,
        );
      }
      return ensureRefreshSecret(join(dir, 'refresh.key')).path;
    };
    return loadConfigFile(file, { devKey, devRefreshSecret });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Collects a repeatable option; `previous` is undefined for the first value when there is no default. */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected an integer');
  return Number(value);
}

/** Maps the tools' own input errors to usage errors (exit code 2). */
async function usage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CheckUsageError || err instanceof HashInputError || err instanceof KeysUsageError) {
      throw new UsageError(err.message, { cause: err });
    }
    throw err;
  }
}

/** Adds `validate`, `check`, `test`, `who-can`, `replay`, `hash`, `keys init|rotate`, `doctor` and `schema` to the program. */
export function addToolCommands(program: Command, io: ToolIO = processIO): void {
  program.addHelpText(
    'after',
    "\nExit codes: 0 ok; 1 a finding (lint warning, failed expectation, doctor problem, failed authentication, a decision replay finds changed); 2 bad usage or invalid config.\nRun `regauth <command> --help` for a command's options and an example.",
  );
  program
    .command('validate')
    .description(
      'load and lint a config: errors name their YAML path and line (exit 2); warnings (exit 1) for rules that never decide, patterns that cannot match, labels no backend produces, unknown actions',
    )
    .requiredOption('-c, --config <file>', 'config file')
    .addHelpText('after', '\nExample:\n  regauth validate -c config.yml')
    .action(async (opts: { config: string }) => {
      const config = await loadForTool(opts.config, io);
      const warnings = lintConfig(config);
      for (const w of warnings) io.stdout(`warning: ${w.path}: ${w.message}\n`);
      if (warnings.length > 0) {
        io.stdout(
          `${opts.config}: valid, with ${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`,
        );
        io.setExitCode(1);
      } else io.stdout(`${opts.config}: ok\n`);
    });

  program
    .command('check')
    .description('what would be granted for each scope, and which rule decided (index and comment)')
    .requiredOption('-c, --config <file>', 'config file')
    .requiredOption('--account <name>', 'the account asking ("" for anonymous)')
    .requiredOption(
      '--scope <scope>',
      'a scope, e.g. repository:team/app:push,pull (required; repeatable, at least one)',
      collect,
    )
    .option('--service <name>', 'the requested service (token audience)')
    .option('--ip <address>', 'the client address')
    .option('--label <key=value>', 'a label as an authenticator would report it (repeatable)', collect, [])
    .option('--password-stdin', "read the account's password on stdin and run the real authenticators")
    .option('--json', 'print one JSON object per scope: {scope, granted, rule, authorizer}')
    .addHelpText(
      'after',
      `
Examples:
  regauth check -c config.yml --account alice --scope repository:team/app:push,pull
  printf '%s' "$PASSWORD" | regauth check -c config.yml --account alice --password-stdin \\
    --scope repository:alice/app:push --json`,
    )
    .action(
      async (opts: {
        config: string;
        account: string;
        scope: string[];
        service?: string;
        ip?: string;
        label: string[];
        passwordStdin?: boolean;
        json?: boolean;
      }) => {
        const config = await loadForTool(opts.config, io, { note: !opts.json });
        const runtime = createRuntime(config);
        const password = opts.passwordStdin ? new Secret(passwordFromStdin(await io.readStdin())) : undefined;
        const result = await usage(() =>
          checkAccess(runtime, {
            account: opts.account,
            scopes: opts.scope,
            labels: parseLabelArgs(opts.label),
            ...(opts.service === undefined ? {} : { service: opts.service }),
            ...(opts.ip === undefined ? {} : { ip: opts.ip }),
            ...(password ? { password } : {}),
          }),
        );
        if (result.outcome === 'unauthenticated') {
          io.stderr(`regauth: authentication failed for ${JSON.stringify(opts.account)}: ${result.reason}\n`);
          io.setExitCode(1);
          return;
        }
        for (const report of result.scopes) {
          io.stdout(opts.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
        }
      },
    );

  program
    .command('test')
    .description('run policy expectations (a YAML list) against a config; exit 1 if any fails')
    .requiredOption('-c, --config <file>', 'config file')
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
      const results = await runPolicyTests(createRuntime(config), tests);
      const failed = results.filter((r) => !r.passed);
      for (const r of failed) io.stdout(`${formatFailure(r)}\n`);
      io.stdout(`${results.length - failed.length} passed, ${failed.length} failed\n`);
      if (failed.length > 0) io.setExitCode(1);
    });

  program
    .command('who-can')
    .description(
      'the rules that can grant a scope, in order, with the accounts each covers: static accounts by name, other backends as conditions; shadowed rules marked',
    )
    .argument('<scope>', 'a scope, e.g. repository:prod/api:push')
    .requiredOption('-c, --config <file>', 'config file')
    .option('--service <name>', 'decide rules on service for this service (otherwise they are conditions)')
    .option('--ip <address>', 'decide rules on ip for this client address (otherwise they are conditions)')
    .option('--json', 'print the report as one JSON object')
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
        const report = await usage(async () =>
          whoCan(config, {
            scope,
            ...(opts.service === undefined ? {} : { service: opts.service }),
            ...(opts.ip === undefined ? {} : { ip: opts.ip }),
          }),
        );
        io.stdout(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatWhoCan(report));
      },
    );

  program
    .command('replay')
    .description(
      'replay audit log lines against a new config: the decisions that change (granted before and not now, and the reverse), by rule and by account; exit 1 when any changes',
    )
    .requiredOption(
      '--audit <file>',
      'audit log: JSON lines as regauth writes them, plain or gzip; - for stdin (repeatable)',
      collect,
    )
    .requiredOption('-c, --config <file>', 'the new config')
    .option('--against <file>', 'the old config (default: the decisions recorded in the lines)')
    .option('--json', 'print the report as one JSON object')
    .addHelpText(
      'after',
      `
Each distinct (account, labels, client address, service, scope) is decided again. Labels of
static accounts come from the configs; those of other backends are not in the audit line, so a
decision that depends on them is listed as not re-decided rather than guessed.

Examples:
  regauth replay --audit audit.log --audit audit.log.1.gz -c new.yml
  journalctl -u regauth -o cat | regauth replay --audit - -c new.yml --against config.yml --json`,
    )
    .action(async (opts: { audit: string[]; config: string; against?: string; json?: boolean }) => {
      for (const file of opts.audit) {
        if (file !== '-' && !existsSync(file)) throw new UsageError(`--audit ${file}: no such file`);
      }
      if (opts.audit.filter((f) => f === '-').length > 1) throw new UsageError('--audit - given twice');
      const config = await loadForTool(opts.config, io, { note: false });
      const against = opts.against ? await loadForTool(opts.against, io, { note: false }) : undefined;
      const stdin = io.stdinStream ?? (() => process.stdin);
      const sources: AuditSource[] = opts.audit.map((f) =>
        f === '-' ? { name: '(stdin)', open: stdin } : { name: f },
      );
      const report = await replayAudit(sources, { config, ...(against ? { against } : {}) });
      io.stdout(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReplay(report));
      if (report.changes.length > 0) io.setExitCode(1);
    });

  program
    .command('hash')
    .description('read a password on stdin (never argv) and print a bcrypt hash for users: or htpasswd')
    .addOption(new Option('--cost <n>', 'bcrypt cost (4-31)').default(DEFAULT_BCRYPT_COST).argParser(integer))
    .addHelpText(
      'after',
      `
The hash starts with $2b$; regauth, docker_auth and the registry's htpasswd accept it like $2y$.

Example:
  printf '%s' "$PASSWORD" | regauth hash --cost 12`,
    )
    .action(async (opts: { cost: number }) => {
      const password = new Secret(passwordFromStdin(await io.readStdin()));
      io.stdout(`${await usage(() => hashPassword(password, opts.cost))}\n`);
    });

  const keys = program.command('keys').description('create and rotate the token signing key');
  keys
    .command('init')
    .description(
      'write a signing key (0600), a self-signed certificate valid for ten years, the registry bundle and a JWKS (registry v3), then print the config blocks to paste',
    )
    .requiredOption('--dir <dir>', 'directory for token.key, token.pem, bundle.pem and jwks.json')
    .addOption(new Option('--alg <alg>', 'key algorithm').choices(['ES256', 'RS256']).default('ES256'))
    .addHelpText('after', '\nExample:\n  regauth keys init --dir /etc/regauth/keys --alg ES256')
    .action(async (opts: { dir: string; alg: 'ES256' | 'RS256' }) => {
      const files = await usage(() => keysInit(opts.dir, { alg: opts.alg }));
      io.stdout(`wrote ${files.key} (0600), ${files.certificate}, ${files.bundle}, ${files.jwks}\n\n`);
      io.stdout(pasteBlocks(files, await readFile(files.certificate, 'utf8')));
    });
  keys
    .command('rotate')
    .description(
      'make a new signing key; the old one moves to previous.key, and bundle.pem / jwks.json hold both',
    )
    .requiredOption('--dir <dir>', 'the directory `keys init` wrote')
    .addOption(
      new Option('--alg <alg>', "key algorithm (default: the current key's)").choices(['ES256', 'RS256']),
    )
    .addHelpText(
      'after',
      `
Install bundle.pem (and jwks.json) on the registry and restart it before regauth reloads the
new key (SIGHUP); keep the old certificate in the bundle until tokens it signed have expired.

Example:
  regauth keys rotate --dir /etc/regauth/keys`,
    )
    .action(async (opts: { dir: string; alg?: 'ES256' | 'RS256' }) => {
      const files = await usage(() => keysRotate(opts.dir, opts.alg ? { alg: opts.alg } : {}));
      io.stdout(
        `wrote a new ${files.key} (0600) and ${files.certificate}; the old key is ${files.previousKey}\n` +
          `${files.bundle} and ${files.jwks} now hold both keys.\n\n` +
          `Next:\n` +
          `  1. install ${files.bundle} (auth.token.rootcertbundle) and ${files.jwks} (auth.token.jwks) on the registry; restart it\n` +
          `  2. reload regauth (SIGHUP): it signs with the new key from then on\n`,
      );
    });

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
    .option('-o, --output <file>', 'write the schema to this file (its folder is created) instead of stdout')
    .action(async (opts: { output?: string }) => {
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
      if (opts.output === undefined) return io.stdout(text);
      await mkdir(dirname(resolve(opts.output)), { recursive: true });
      await writeFile(opts.output, text);
    });

  program
    .command('doctor')
    .description(
      'check that the registry trusts regauth: issuer, service, rootcertbundle, realm path, certificate validity, v3 jwks',
    )
    .requiredOption('-c, --config <file>', 'regauth config file')
    .requiredOption('--registry-config <file>', "the registry's config.yml")
    .option(
      '--data-dir <dir>',
      'where `regauth serve --data-dir` keeps the development key; checked when the config names no token.key',
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
    .action(async (opts: { config: string; registryConfig: string; dataDir: string }) => {
      const registry = readRegistryConfig(opts.registryConfig);
      let devKey: KeyFiles | undefined;
      if (!namesSigningKey(opts.config)) {
        // The same files `regauth serve --data-dir` signs with (src/service.ts).
        const dir = resolve(opts.dataDir);
        devKey = { keyPath: join(dir, 'token.key'), certificatePath: join(dir, 'token.pem') };
        if (!existsSync(devKey.keyPath) || !existsSync(devKey.certificatePath)) {
          io.stdout(
            `${formatCheck({
              name: 'signing key',
              ok: false,
              message: `no token.key and no development key in ${dir}`,
              fix: `start regauth once (\`regauth serve -c ${opts.config} --data-dir ${opts.dataDir}\` creates it), or run \`regauth keys init --dir DIR\` and set token.key and token.certificate`,
            })}\n1 problem found\n`,
          );
          io.setExitCode(1);
          return;
        }
        io.stdout(`${opts.config}: no token.key; checking the development key in ${dir}\n`);
      }
      const config = await loadForTool(opts.config, io, devKey ? { devKey } : {});
      const checks = diagnose(config, registry);
      for (const check of checks) io.stdout(`${formatCheck(check)}\n`);
      const failed = checks.filter((c) => !c.ok).length;
      io.stdout(
        failed === 0
          ? 'the registry trusts regauth\n'
          : `${failed} problem${failed === 1 ? '' : 's'} found\n`,
      );
      if (failed > 0) io.setExitCode(1);
    });
}
