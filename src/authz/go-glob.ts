/**
 * Go's `path.Match`, the glob docker_auth matches ACL patterns with, for reading a pattern as
 * docker_auth reads it (pattern.ts dockerAuthReadings): there the text may hold a label value or a
 * capture, which a client's backend can write, so it is matched here by Go's own procedure, in
 * time bounded by the pattern's length times the value's, never by a regular expression built
 * from it (minimatch's, whose backtracking such text could make run for minutes).
 *
 * Go's rules: `*` is any run of characters but `/`, `?` one character but `/`, `[…]` one
 * character of a class (`^` first negates it; `a-z` ranges; `\` escapes a member), `\` escapes
 * any character; anything else is itself. No braces, no extended globs. A malformed pattern (a
 * `\` at the end, a class never closed, empty, or with a range missing an end) matches nothing,
 * as docker_auth treats Go's ErrBadPattern.
 */

type Atom =
  | { readonly kind: 'char'; readonly char: string }
  | { readonly kind: 'one' }
  | {
      readonly kind: 'class';
      readonly negated: boolean;
      readonly ranges: readonly (readonly [number, number])[];
    };

/** A `*` (or none, at the start) and the atoms up to the next `*` outside a class. */
interface Chunk {
  readonly star: boolean;
  readonly atoms: readonly Atom[];
}

/** A matcher for `pattern` read as Go's `path.Match` reads it. */
export function goGlob(pattern: string): (value: string) => boolean {
  const chunks = parse([...pattern]);
  if (chunks === undefined) return () => false;
  return (value) => matches(chunks, [...value]);
}

function parse(p: readonly string[]): Chunk[] | undefined {
  const chunks: Chunk[] = [];
  let i = 0;
  /** A class member: a character, `\` and the one it escapes; undefined when there is none. */
  const member = (): number | undefined => {
    if (i >= p.length || p[i] === '-' || p[i] === ']') return undefined;
    if (p[i] === '\\' && ++i >= p.length) return undefined;
    const code = p[i++]!.codePointAt(0)!;
    // A class goes on after a member: its `]` at the latest.
    return i < p.length ? code : undefined;
  };
  while (i < p.length) {
    let star = false;
    while (p[i] === '*') {
      star = true;
      i++;
    }
    const atoms: Atom[] = [];
    while (i < p.length && p[i] !== '*') {
      const c = p[i]!;
      if (c === '\\') {
        if (i + 1 >= p.length) return undefined;
        atoms.push({ kind: 'char', char: p[i + 1]! });
        i += 2;
      } else if (c === '?') {
        atoms.push({ kind: 'one' });
        i++;
      } else if (c === '[') {
        i++;
        const negated = p[i] === '^';
        if (negated) i++;
        const ranges: [number, number][] = [];
        while (!(p[i] === ']' && ranges.length > 0)) {
          const lo = member();
          if (lo === undefined) return undefined;
          let hi = lo;
          if (p[i] === '-') {
            i++;
            const end = member();
            if (end === undefined) return undefined;
            hi = end;
          }
          ranges.push([lo, hi]);
        }
        i++;
        atoms.push({ kind: 'class', negated, ranges });
      } else {
        atoms.push({ kind: 'char', char: c });
        i++;
      }
    }
    chunks.push({ star, atoms });
  }
  return chunks;
}

/** Where `atoms` matched from `start` end in `value`, or -1. */
function matchAtoms(atoms: readonly Atom[], value: readonly string[], start: number): number {
  let at = start;
  for (const atom of atoms) {
    const c = value[at];
    if (c === undefined) return -1;
    if (atom.kind === 'char') {
      if (c !== atom.char) return -1;
    } else if (atom.kind === 'one') {
      if (c === '/') return -1;
    } else {
      const code = c.codePointAt(0)!;
      if (atom.ranges.some(([lo, hi]) => lo <= code && code <= hi) === atom.negated) return -1;
    }
    at++;
  }
  return at;
}

/**
 * Go's procedure: each chunk where the value goes on, else (after a `*`) at the first place
 * further on, never past a `/`, where it matches; the last chunk must end the value. No chunk is
 * tried again once a later one fails (Go does not either).
 */
function matches(chunks: readonly Chunk[], value: readonly string[]): boolean {
  let at = 0;
  for (let k = 0; k < chunks.length; k++) {
    const { star, atoms } = chunks[k]!;
    const last = k === chunks.length - 1;
    // A `*` at the end takes the rest, unless it holds a `/`.
    if (star && atoms.length === 0) return !value.slice(at).includes('/');
    const here = matchAtoms(atoms, value, at);
    if (here >= 0 && (!last || here === value.length)) {
      at = here;
      continue;
    }
    if (!star) return false;
    let next = -1;
    for (let skip = at; skip < value.length && value[skip] !== '/'; skip++) {
      const end = matchAtoms(atoms, value, skip + 1);
      if (end >= 0 && (!last || end === value.length)) {
        next = end;
        break;
      }
    }
    if (next < 0) return false;
    at = next;
  }
  return at === value.length;
}
