import { CommanderError, type Command } from 'commander';
import { BackendUnavailableError, isSystemError, RegauthError } from '../core/errors.js';

/**
 * Exit codes (docs/cli.md "Exit codes and the config"): 0 ok, 1 a finding or denial, 2 bad usage
 * or config, 3 a backend could not answer, 70 a bug in regauth (EX_SOFTWARE of sysexits.h).
 */
export const EXIT = { ok: 0, finding: 1, usage: 2, unavailable: 3, bug: 70 } as const;

/**
 * The exit code for an error that ended a verb, after telling the operator on `stderr` (commander
 * has already printed its own errors). Errors regauth raises on purpose, and the system's errors
 * about a file the operator named, are one line; anything else is a bug: a line asking for a
 * report, then the error's stack (stdout stays the verb's answer).
 */
export function exitCodeFor(err: unknown, stderr: (text: string) => void): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof BackendUnavailableError) {
    // Not the operator's usage: the directory (or ext command, or provider) could not answer.
    stderr(`regauth: ${err.message}\n`);
    return EXIT.unavailable;
  }
  if (err instanceof RegauthError || isSystemError(err)) {
    stderr(`regauth: ${err.message}\n`);
    return EXIT.usage;
  }
  stderr(
    'regauth: this is a bug in regauth, please report it with the command you ran and the lines below\n' +
      `${err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : `thrown: ${String(err)}`}\n`,
  );
  return EXIT.bug;
}

/** Runs the program on `argv` and returns its exit code (a verb may also have set one itself). */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  stderr: (text: string) => void,
): Promise<number> {
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    return exitCodeFor(err, stderr);
  }
}
