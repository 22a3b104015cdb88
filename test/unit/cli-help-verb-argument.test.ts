import { expect, test } from 'vitest';
import { buildProgram, nestedHelp } from '../../src/cli/program.js';

/**
 * Found by a review (94c6733). docs/cli.md: `regauth help [verb …]` is the same as
 * --help. nestedHelp now runs `help <names…>` as a command line as soon as a name is not a
 * subcommand, to get commander's "unknown command". But a verb's own argument is no subcommand:
 * `regauth help test policy-tests.yml` now runs `regauth test policy-tests.yml` (the policy tests,
 * against ./config.yml), `regauth help who-can repository:prod/api:push` runs who-can, and
 * `regauth help keys init extra` asks for --dir; before, each printed the verb's help. Only a
 * name where a subcommand is expected (a command that has subcommands) should be "unknown".
 */
const argv = (...args: string[]) => ['node', 'regauth', 'help', ...args];

test('help <verb> <its argument> prints the verb help, never runs the verb', () => {
  const program = buildProgram();
  for (const args of [
    ['test', 'policy-tests.yml'],
    ['who-can', 'repository:prod/api:push'],
  ]) {
    const out = nestedHelp(argv(...args), program);
    expect(out.slice(2), args.join(' ')).toContain('--help');
  }
});

test('still: help nosuch and help keys nosuch are unknown commands', () => {
  const program = buildProgram();
  expect(nestedHelp(argv('nosuch'), program)).toEqual(['node', 'regauth', 'nosuch']);
  expect(nestedHelp(argv('keys', 'nosuch'), program)).toEqual(['node', 'regauth', 'keys', 'nosuch']);
});
