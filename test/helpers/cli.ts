import { Command } from 'commander';
import { runProgram } from '../../src/cli/exit.js';
import { addToolCommands, type ToolIO } from '../../src/cli/tools.js';

/** What one in-process run of a verb gave. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `regauth <args>` in-process with the operator verbs, mapping errors to exit codes as
 * src/cli/main.ts does; `stdin` is what the verb reads (whole or streamed).
 */
export async function regauth(
  args: readonly string[],
  stdin = '',
  /** ToolIO members to add or replace (e.g. `progress`, which the process's IO has on a terminal). */
  extra: Partial<ToolIO> = {},
): Promise<ToolRun> {
  let stdout = '';
  let stderr = '';
  let code = 0;
  const io: ToolIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    readStdin: () => Promise.resolve(stdin),
    stdinStream: async function* () {
      yield stdin;
    },
    setExitCode: (c) => void (code = c),
    ...extra,
  };
  const program = new Command()
    .name('regauth')
    .exitOverride()
    .configureOutput({ writeOut: (t) => void (stdout += t), writeErr: (t) => void (stderr += t) });
  addToolCommands(program, io);
  const failed = await runProgram(program, ['node', 'regauth', ...args], (t) => void (stderr += t));
  return { code: failed === 0 ? code : failed, stdout, stderr };
}
