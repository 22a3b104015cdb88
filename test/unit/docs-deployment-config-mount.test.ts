/**
 * Found by a review of the compose stack and image. Defect: the documented `docker run` bind-mounts the config as a single file
 * (`-v "$PWD/config.yml:/config/config.yml:ro"`, docs/deployment.md "Container image", and the
 * same line in the Dockerfile's header). Docker binds a file by its inode, so once the operator
 * saves config.yml with an editor or tool that writes a new file and renames it over the old one
 * (vim's default, `sed -i`, Ansible's copy/template, `git checkout`), the container keeps
 * seeing the old file for good: the watcher hears nothing, and `docker kill -s HUP` reloads the
 * old content and still logs "config reloaded". The change silently never applies until the
 * container is recreated.
 *
 * What the docs promise (docs/operations.md "Reload"): "`regauth serve` watches the config file
 * ... and reloads when one changes ...; `kill -HUP` reloads too. The directories are watched, so
 * editors that save by renaming ... are seen". compose/compose.yml gets it right by mounting the
 * directory (`./regauth:/config:ro`).
 *
 * Observed on a private dockerd 20.10.24, with the docs' command as written (config with
 * `token.expiration` unset): `sed -i` set `expiration: 123` in ./config.yml on the host; in the
 * container `grep -c expiration /config/config.yml` printed 0; `docker kill -s HUP` made regauth
 * log `"msg":"config reloaded"`; a token request still answered `"expires_in":900`.
 *
 * The single-file mount also contradicts the examples the same page lists for the container:
 * examples/static-users.yml says "Paths are as mounted in the container: this directory at
 * /config" and reads `users_file: htpasswd` from there; run with the documented command (as
 * ./config.yml, htpasswd next to it) it exits at once: `line 39: users_file: cannot read
 * /config/htpasswd: ENOENT`.
 *
 * Suggested fix: document a directory mount, as compose does, e.g.
 * `mkdir config && mv config.yml config/` then `-v "$PWD/config:/config:ro"` (in
 * docs/deployment.md and in the Dockerfile's header), or at least warn that a single-file bind
 * does not follow a save by rename.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');

/** Every `docker run` command in a text, continuation lines joined. */
function dockerRuns(text: string): string[] {
  const joined = text.replace(/\\\n#?\s*/g, ' ');
  return [...joined.matchAll(/docker run\b[^\n`]*/g)].map((m) => m[0]);
}

/** The `-v SRC:DEST[:opts]` mounts of a command whose destination is regauth's config file itself. */
function singleFileConfigMounts(run: string): string[] {
  return [...run.matchAll(/-v\s+("[^"]+"|\S+)/g)]
    .map((m) => m[1]!.replace(/^"|"$/g, ''))
    .filter((spec) => spec.split(':')[1] === '/config/config.yml');
}

test.each(['docs/deployment.md', 'Dockerfile'])(
  '%s: the documented docker run mounts the config directory, so a reload sees a saved config',
  (file) => {
    const runs = dockerRuns(read(file)).filter((r) => r.includes('/config'));
    expect(runs.length, `a docker run with a /config mount in ${file}`).toBeGreaterThan(0);
    for (const run of runs) {
      expect(
        singleFileConfigMounts(run),
        `a single-file bind of /config/config.yml never sees a save by rename: ${run}`,
      ).toEqual([]);
    }
  },
);
