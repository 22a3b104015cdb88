import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { CLI, needTerminal, ROOT, word } from './harness/terminal.js';
import { hash, randomPassword, tempDir } from '../helpers/fixtures.js';

beforeAll(needTerminal, 180_000);

/**
 * Runs the built `regauth` with `args` on a terminal (script(1)'s pseudo-terminal), typing each
 * of `typed` (followed by Enter) once the screen shows the prompt before it. Resolves with
 * everything the terminal showed (the echo of what was typed included) and the exit code.
 */
async function onTerminal(
  args: readonly string[],
  typed: readonly { after: string; text: string }[],
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, CLI, ...args].map(word).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: 'dumb' },
  });
  let screen = '';
  let next = 0;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (screen += d));
  const progress = () => {
    while (next < typed.length && screen.split(typed[next]!.after).length > countBefore(next) + 1) {
      child.stdin.write(`${typed[next]!.text}\r`);
      next++;
    }
  };
  // The nth answer waits for its prompt's (n+1)th showing when prompts repeat.
  const countBefore = (n: number) => typed.slice(0, n).filter((t) => t.after === typed[n]!.after).length;
  child.stdout.on('data', (d: string) => {
    screen += d;
    progress();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
  clearTimeout(timer);
  return { code, screen };
}

describe('passwords typed on a terminal', () => {
  test('hash asks twice without echoing, and prints a hash of what was typed', async () => {
    const password = randomPassword();
    const run = await onTerminal(
      ['hash', '--cost', '4'],
      [
        { after: 'Password:', text: password },
        { after: 'Again:', text: password },
      ],
    );
    expect(run.screen).toContain('Password:');
    expect(run.screen).not.toContain(password);
    expect(run.code).toBe(0);
    const printed = /\$2b\$04\$[./A-Za-z0-9]{53}/.exec(run.screen)?.[0];
    expect(printed).toBeDefined();
    expect(bcrypt.compareSync(password, printed!)).toBe(true);
  });

  test('hash refuses two different passwords: exit 2, no hash', async () => {
    const run = await onTerminal(
      ['hash', '--cost', '4'],
      [
        { after: 'Password:', text: 'first-one' },
        { after: 'Again:', text: 'second-one' },
      ],
    );
    expect(run.code).toBe(2);
    expect(run.screen).toContain('regauth: the two passwords differ');
    expect(run.screen).not.toMatch(/\$2b\$/);
  });

  test('hash refuses an empty password: exit 2', async () => {
    const run = await onTerminal(['hash', '--cost', '4'], [{ after: 'Password:', text: '' }]);
    expect(run.code).toBe(2);
    expect(run.screen).toContain('regauth: refusing to hash an empty password');
  });

  test('Ctrl-C at the prompt ends hash with exit 2 and a one-line reason', async () => {
    const run = await onTerminal(['hash', '--cost', '4'], [{ after: 'Password:', text: '\u0003' }]);
    expect(run.code).toBe(2);
    expect(run.screen).toContain('regauth: no password given: the prompt was cancelled');
    expect(run.screen).not.toMatch(/\bat \S+ \(/);
  });

  test('check --password-stdin asks once without echoing and runs the real authenticators', async () => {
    const tmp = tempDir('regauth-cli-tty-');
    try {
      const password = randomPassword();
      const config = join(tmp.dir, 'config.yml');
      writeFileSync(
        config,
        `token: {issuer: t, services: [registry.test]}
users:
  alice: {password: "${hash(password)}"}
acl:
  - match: {account: alice, name: "alice/*"}
    actions: [pull]
`,
      );
      const args = [
        'check',
        '-c',
        config,
        '--account',
        'alice',
        '--password-stdin',
        '--scope',
        'repository:alice/app:pull',
      ];
      const right = await onTerminal(args, [{ after: 'Password:', text: password }]);
      expect(right.screen).not.toContain(password);
      expect(right.code).toBe(0);
      expect(right.screen).toMatch(/granted/);
      const wrong = await onTerminal(args, [{ after: 'Password:', text: `${password}x` }]);
      expect(wrong.code).toBe(1);
    } finally {
      tmp.cleanup();
    }
  });
});
