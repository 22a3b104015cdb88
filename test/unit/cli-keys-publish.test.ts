import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { tempDir } from '../helpers/fixtures.js';
import { regauth } from '../helpers/cli.js';

const tmp = tempDir('regauth-publish-');
afterAll(() => tmp.cleanup());

const kidsIn = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** The first `…` command of a message. */
const command = (text: string, verb: string) =>
  new RegExp('`(regauth keys ' + verb + ' [^`]+)`').exec(text)?.[1];
/** Runs a command as pasted into a shell (the words as the shell splits them), in-process. */
const paste = async (line: string) => {
  const words = JSON.parse(
    execFileSync('sh', ['-c', `node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${line}`], {
      encoding: 'utf8',
    }),
  ) as string[];
  expect(words[0]).toBe('regauth');
  return regauth(words.slice(1));
};
/** `regauth keys init --dir DIR --publish TRUST` as its own process, under umask 077. */
const initUnderUmask077 = (dir: string, trust: string) =>
  spawnSync(
    'sh',
    [
      '-c',
      'umask 077; exec "$@"',
      'sh',
      process.execPath,
      '--import',
      'tsx',
      main,
      'keys',
      'init',
      '--dir',
      dir,
      '--publish',
      trust,
    ],
    { encoding: 'utf8' },
  );
const certsIn = (file: string) => readFileSync(file, 'utf8').match(/BEGIN CERTIFICATE/g)?.length ?? 0;

describe('regauth keys --publish: the registry’s directory gets public files only, whole', () => {
  test('--publish that is a symlink to the key directory is refused, as the key directory itself is', async () => {
    // `--publish /etc/docker/registry/trust` where trust -> /etc/regauth/keys: the paste block
    // and the rotate message then tell the operator to give the registry the key directory.
    const dir = join(tmp.dir, 'sym-keys');
    expect((await regauth(['keys', 'init', '--dir', dir])).code).toBe(0);
    const link = join(tmp.dir, 'sym-trust');
    symlinkSync(dir, link);
    const run = await regauth(['keys', 'rotate', '--dir', dir, '--publish', link]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('private key');
    expect(existsSync(join(dir, 'next.key'))).toBe(false);
  });

  test('--dir that is a symlink to the --publish directory is refused (the key would land in the registry’s directory)', async () => {
    const trust = join(tmp.dir, 'sym2-trust');
    mkdirSync(trust);
    const dir = join(tmp.dir, 'sym2-keys');
    symlinkSync(trust, dir);
    const run = await regauth(['keys', 'init', '--dir', dir, '--publish', trust]);
    expect(run.code).toBe(2);
    expect(readdirSync(trust).filter((f) => f.endsWith('.key'))).toEqual([]);
  });

  test('--publish that contains the key directory is refused (the registry would see keys/token.key)', async () => {
    const parent = join(tmp.dir, 'parent');
    const dir = join(parent, 'keys');
    const run = await regauth(['keys', 'init', '--dir', dir, '--publish', parent]);
    expect(run.code).toBe(2);
    expect(existsSync(join(dir, 'token.key'))).toBe(false);
  });

  test('keys init --publish under the key directory still leaves the key directory 0700', async () => {
    // withPublished creates the publish directory (and its missing parents, the key directory
    // among them) 0755 before keysInit's makeDirectory(dir, 0o700), which then does nothing.
    const dir = join(tmp.dir, 'nested-keys');
    const run = await regauth(['keys', 'init', '--dir', dir, '--publish', join(dir, 'trust')]);
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  test('a refused step with --publish creates nothing ("nothing was changed")', async () => {
    const trust = join(tmp.dir, 'refused-trust');
    const run = await regauth(['keys', 'rotate', '--dir', join(tmp.dir, 'no-keys'), '--publish', trust]);
    expect(run.code).toBe(2);
    expect(existsSync(trust)).toBe(false);
  });

  test('rotate refused while pending, with --publish: the message names the published bundle and --publish', async () => {
    const dir = join(tmp.dir, 'pending-keys');
    const trust = join(tmp.dir, 'pending-trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust])).code).toBe(0);
    const again = await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    expect(again.code).toBe(2);
    // It says "restarted with <dir>/bundle.pem" and "keys activate --dir <dir>" (no --publish).
    expect(again.stderr).toContain(join(trust, 'bundle.pem'));
    expect(again.stderr).toContain(`--publish ${trust}`);
  });

  test('a rotate whose copy would fail for a directory in the way is refused whole, and runs once it is gone', async () => {
    // The keys were written before their copy: a copy that failed (a directory in the way) left
    // the published bundle.pem with the next key and jwks.json without it. The targets are now
    // checked before anything is written.
    const dir = join(tmp.dir, 'half-keys');
    const trust = join(tmp.dir, 'half-trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    const before = {
      bundle: readFileSync(join(trust, 'bundle.pem'), 'utf8'),
      kids: kidsIn(join(trust, 'jwks.json')),
    };
    // jwks.json cannot be replaced: something made it a directory.
    rmSync(join(trust, 'jwks.json'));
    mkdirSync(join(trust, 'jwks.json'));
    writeFileSync(join(trust, 'jwks.json', 'x'), '');
    const rotate = await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    expect(rotate.code).toBe(2);
    expect(rotate.stderr).toBe(
      `regauth: ${join(trust, 'jwks.json')} is a directory; remove it (a file goes there); nothing was changed\n`,
    );
    // Nothing moved on: no rotation pending, neither bundle changed.
    expect(existsSync(join(dir, 'next.key'))).toBe(false);
    expect(readFileSync(join(trust, 'bundle.pem'), 'utf8')).toBe(before.bundle);
    expect(certsIn(join(dir, 'bundle.pem'))).toBe(1);
    rmSync(join(trust, 'jwks.json'), { recursive: true });
    const again = await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(trust, 'bundle.pem'), 'utf8')).toBe(
      readFileSync(join(dir, 'bundle.pem'), 'utf8'),
    );
    expect(kidsIn(join(trust, 'jwks.json'))).toEqual(kidsIn(join(dir, 'jwks.json')));
    expect(kidsIn(join(trust, 'jwks.json'))).not.toEqual(before.kids);
  });

  test('a step run without --publish: keys publish copies what the key directory holds now', async () => {
    const dir = join(tmp.dir, 'nopub-keys');
    const trust = join(tmp.dir, 'nopub-trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'activate', '--dir', dir])).code).toBe(0); // forgot --publish
    // activate cannot run again (nothing pending); publish is the way.
    expect((await regauth(['keys', 'activate', '--dir', dir, '--publish', trust])).code).toBe(2);
    const again = await regauth(['keys', 'publish', '--dir', dir, '--publish', trust]);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(trust, 'bundle.pem'), 'utf8')).toBe(
      readFileSync(join(dir, 'bundle.pem'), 'utf8'),
    );
    expect(readdirSync(trust).sort()).toEqual(['bundle.pem', 'jwks.json']);
    // publish refuses the key directory like the steps do, and a directory without a key.
    expect((await regauth(['keys', 'publish', '--dir', dir, '--publish', dir])).code).toBe(2);
    expect(
      (await regauth(['keys', 'publish', '--dir', join(tmp.dir, 'none'), '--publish', trust])).code,
    ).toBe(2);
  });

  test('published files are 0644 whatever mode a stale *.tmp in the registry’s directory had', async () => {
    // The new text was written to `${path}.tmp`, reused when it existed, with its mode.
    const trust = join(tmp.dir, 'stale-trust');
    mkdirSync(trust);
    writeFileSync(join(trust, 'bundle.pem.tmp'), 'stale', { mode: 0o600 });
    const run = await regauth(['keys', 'init', '--dir', join(tmp.dir, 'stale-keys'), '--publish', trust]);
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(join(trust, 'bundle.pem')).mode & 0o777).toBe(0o644);
  });

  test('a symlink left as *.tmp in the registry’s directory is not followed', async () => {
    // Whoever can write the published directory plants jwks.json.tmp -> any file regauth's user
    // may write (e.g. ../keys/token.key): keys overwrote the target with the JWKS, and the link
    // became jwks.json.
    const trust = join(tmp.dir, 'link-trust');
    mkdirSync(trust);
    const victim = join(tmp.dir, 'victim.txt');
    writeFileSync(victim, 'not yours');
    symlinkSync(victim, join(trust, 'jwks.json.tmp'));
    const run = await regauth(['keys', 'init', '--dir', join(tmp.dir, 'link-keys'), '--publish', trust]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
    expect(lstatSync(join(trust, 'jwks.json')).isFile()).toBe(true);
  });
  test('a rotate refused while one is pending never sends the operator to a published bundle without the next key', async () => {
    // rotate ran without --publish (the registry's copy lacks next.pem); rotate again with
    // --publish is refused, and its message said: activate with --publish "once the registry has
    // been restarted with TRUST/bundle.pem", a bundle that does not trust the next key: every
    // token after activate was then refused. It must say to copy first. Found by a review.
    const dir = join(tmp.dir, 'pending-unpublished-keys');
    const trust = join(tmp.dir, 'pending-unpublished-trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'rotate', '--dir', dir])).code).toBe(0);
    expect(certsIn(join(trust, 'bundle.pem'))).toBe(1); // the registry's copy: current key only
    const again = await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`restarted with ${join(trust, 'bundle.pem')}`);
    expect(again.stderr).toContain('regauth keys publish');
  });

  test('the publish directory is created 0755 (as documented) whatever the umask, so the registry can read it', () => {
    // The files were chmod'ed 0644 whatever the umask, the directory not: under umask 077 it was
    // 0700, and a registry running as another user could not open bundle.pem.
    const dir = join(tmp.dir, 'umask-keys');
    const trust = join(tmp.dir, 'umask-trust');
    const out = initUnderUmask077(dir, trust);
    expect(out.status).toBe(0);
    expect(statSync(join(trust, 'bundle.pem')).mode & 0o777).toBe(0o644);
    expect(statSync(trust).mode & 0o777).toBe(0o755);
  });
  test('under umask 077, the missing parents of the publish directory are made so the registry can reach it', () => {
    // Only the last component was chmod'ed: /srv/registry made for --publish
    // /srv/registry/trust stayed 0700, and a registry running as another user could not open
    // /srv/registry/trust/bundle.pem. Found by a review, as are the tests below.
    const dir = join(tmp.dir, 'umask-parents-keys');
    const parent = join(tmp.dir, 'umask-registry');
    const trust = join(parent, 'trust');
    const out = initUnderUmask077(dir, trust);
    expect(out.status, out.stderr).toBe(0);
    expect(statSync(trust).mode & 0o777).toBe(0o755);
    expect(statSync(parent).mode & 0o055).toBe(0o055);
  });

  test('keys init refused at the publish directory changes nothing: no key-directory parents are left', async () => {
    // keys init removed the key directory it made when --publish could not be made ("nothing was
    // changed"), but not the parents made for it.
    const top = join(tmp.dir, 'new-deploy');
    const dir = join(top, 'regauth', 'keys');
    const blocker = join(tmp.dir, 'a-file');
    writeFileSync(blocker, '');
    const run = await regauth(['keys', 'init', '--dir', dir, '--publish', join(blocker, 'trust')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('nothing was changed');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(top)).toBe(false);
  });

  test('after an activation cut short, following keys publish’s advice leaves the registry’s copy as the key directory’s', async () => {
    // activate --publish TRUST stopped between its renames (token.key is the new key, token.pem
    // the old certificate). keys publish --publish TRUST refuses and said to run
    // `regauth keys activate --dir DIR`, without --publish: the activation finished, DIR's
    // bundle dropped the key retired by the earlier activation, TRUST's copy did not.
    const dir = join(tmp.dir, 'cut-keys');
    const trust = join(tmp.dir, 'cut-trust');
    const ok = async (args: string[]) => expect((await regauth(args)).code).toBe(0);
    await ok(['keys', 'init', '--dir', dir, '--publish', trust]);
    await ok(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    await ok(['keys', 'activate', '--dir', dir, '--publish', trust]);
    await ok(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    // The second activation, cut short after its first rename.
    writeFileSync(join(dir, 'previous.key'), readFileSync(join(dir, 'token.key')));
    writeFileSync(join(dir, 'previous.pem'), readFileSync(join(dir, 'token.pem')));
    renameSync(join(dir, 'next.key'), join(dir, 'token.key'));

    const publish = await regauth(['keys', 'publish', '--dir', dir, '--publish', trust]);
    expect(publish.code).toBe(2);
    const advice = command(publish.stderr, 'activate');
    expect(advice).toBeDefined();
    const finish = await paste(advice!);
    expect(finish.code, finish.stderr).toBe(0);
    expect(readFileSync(join(trust, 'bundle.pem'), 'utf8')).toBe(
      readFileSync(join(dir, 'bundle.pem'), 'utf8'),
    );
  });

  test('the commands keys rotate and keys activate print quote their paths (a --dir with a space)', async () => {
    // rotate's "Next: 3." and activate's "start one with" did not quote their paths.
    const dir = join(tmp.dir, 'my keys');
    const trust = join(tmp.dir, 'my trust');
    expect((await regauth(['keys', 'init', '--dir', dir])).code).toBe(0);
    const activate = await regauth(['keys', 'activate', '--dir', dir]);
    expect(activate.code).toBe(2);
    expect(activate.stderr).toContain(`regauth keys rotate --dir '${dir}'`);
    const rotate = await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust]);
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(rotate.stdout).toContain(`regauth keys activate --dir '${dir}' --publish '${trust}'`);
  });

  test('activate --publish is refused while the registry’s copy lacks the next key (rotate ran without --publish)', async () => {
    // rotate without --publish, the registry (reading TRUST) restarted, then activate --publish
    // TRUST: regauth then signed with a key TRUST/bundle.pem does not hold, and the registry
    // refused every token until it was restarted again.
    const dir = join(tmp.dir, 'skip-keys');
    const trust = join(tmp.dir, 'skip-trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'rotate', '--dir', dir])).code).toBe(0); // forgot --publish
    const nextPem = readFileSync(join(dir, 'next.pem'), 'utf8').trim();
    expect(readFileSync(join(trust, 'bundle.pem'), 'utf8')).not.toContain(nextPem);
    const activate = await regauth(['keys', 'activate', '--dir', dir, '--publish', trust]);
    expect(activate.code).toBe(2);
    expect(activate.stderr).toContain('regauth keys publish');
    expect(existsSync(join(dir, 'next.key'))).toBe(true);
  });
  test('keys init --dir P/keys --publish P/trust with P missing: the registry can reach P/trust', async () => {
    // makeDirectory(dir, 0o700) made P (shared parent) 0700 before openPublished ran; P existed
    // by then, so it was "left alone", and a registry running as another user could not traverse
    // P to P/trust/bundle.pem although P/trust itself was 0755. Found by a review, as below.
    const top = join(tmp.dir, 'shared');
    const dir = join(top, 'keys');
    const trust = join(top, 'trust');
    const run = await regauth(['keys', 'init', '--dir', dir, '--publish', trust]);
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(trust).mode & 0o777).toBe(0o755);
    expect(statSync(top).mode & 0o055, 'P must be searchable by others').toBe(0o055);
  });

  test('activate --publish is not refused when the published bundle holds the next key with CRLF line ends', async () => {
    // The registry (Go pem.Decode) trusts such a copy; the check compared PEM text byte for
    // byte, so the copy "lacked" the next key.
    const dir = join(tmp.dir, 'crlf-keys');
    const trust = join(tmp.dir, 'crlf-trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'rotate', '--dir', dir, '--publish', trust])).code).toBe(0);
    const bundle = join(trust, 'bundle.pem');
    writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(/\n/g, '\r\n'));
    const activate = await regauth(['keys', 'activate', '--dir', dir, '--publish', trust]);
    expect(activate.code, activate.stderr).toBe(0);
    expect(existsSync(join(dir, 'next.key'))).toBe(false);
  });

  test('the refusal’s advice, pasted, then activate --publish works (a --dir with a quote and a space)', async () => {
    const dir = join(tmp.dir, "it's keys");
    const trust = join(tmp.dir, 'the trust');
    expect((await regauth(['keys', 'init', '--dir', dir, '--publish', trust])).code).toBe(0);
    expect((await regauth(['keys', 'rotate', '--dir', dir])).code).toBe(0);
    const refused = await regauth(['keys', 'activate', '--dir', dir, '--publish', trust]);
    expect(refused.code).toBe(2);
    const advice = command(refused.stderr, 'publish');
    expect(advice).toBeDefined();
    const publish = await paste(advice!);
    expect(publish.code, publish.stderr).toBe(0);
    const activate = await regauth(['keys', 'activate', '--dir', dir, '--publish', trust]);
    expect(activate.code, activate.stderr).toBe(0);
  });
});
