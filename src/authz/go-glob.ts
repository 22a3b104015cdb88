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
 * as docker_auth treats Go's ErrBadPattern. As Go, it walks UTF-8 bytes: a `*` skips one byte at a
 * time, and `?` or a class at a byte inside a character takes that byte alone (U+FFFD for a class).
 */

type Atom =
  | { readonly kind: 'byte'; readonly byte: number }
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
  const chunks = parse(Buffer.from(pattern, 'utf8'));
  if (chunks === undefined) return () => false;
  return (value) => matches(chunks, Buffer.from(value, 'utf8'));
}

const BACKSLASH = 0x5c;
const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const DASH = 0x2d;
const CARET = 0x5e;
const SLASH = 0x2f;

function parse(p: Buffer): Chunk[] | undefined {
  const chunks: Chunk[] = [];
  let i = 0;
  /** A class member: a character, `\` and the one it escapes; undefined when there is none. */
  const member = (): number | undefined => {
    if (i >= p.length || p[i] === DASH || p[i] === CLOSE) return undefined;
    if (p[i] === BACKSLASH && ++i >= p.length) return undefined;
    const [code, width] = decode(p, i);
    // Go refuses a member that is no UTF-8.
    if (code === REPLACEMENT && width === 1) return undefined;
    i += width;
    // A class goes on after a member: its `]` at the latest.
    return i < p.length ? code : undefined;
  };
  while (i < p.length) {
    let star = false;
    while (p[i] === STAR) {
      star = true;
      i++;
    }
    const atoms: Atom[] = [];
    while (i < p.length && p[i] !== STAR) {
      const c = p[i]!;
      if (c === BACKSLASH) {
        if (i + 1 >= p.length) return undefined;
        atoms.push({ kind: 'byte', byte: p[i + 1]! });
        i += 2;
      } else if (c === QUESTION) {
        atoms.push({ kind: 'one' });
        i++;
      } else if (c === OPEN) {
        i++;
        const negated = p[i] === CARET;
        if (negated) i++;
        const ranges: [number, number][] = [];
        while (!(p[i] === CLOSE && ranges.length > 0)) {
          const lo = member();
          if (lo === undefined) return undefined;
          let hi = lo;
          if (p[i] === DASH) {
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
        atoms.push({ kind: 'byte', byte: c });
        i++;
      }
    }
    chunks.push({ star, atoms });
  }
  return chunks;
}

const REPLACEMENT = 0xfffd;

/** The character at `at` and its width in bytes, as Go's utf8.DecodeRune: U+FFFD and 1 for a byte that starts none. */
function decode(bytes: Buffer, at: number): [number, number] {
  const b0 = bytes[at]!;
  if (b0 < 0x80) return [b0, 1];
  const width =
    b0 >= 0xc2 && b0 <= 0xdf ? 2 : b0 >= 0xe0 && b0 <= 0xef ? 3 : b0 >= 0xf0 && b0 <= 0xf4 ? 4 : 0;
  if (width === 0 || at + width > bytes.length) return [REPLACEMENT, 1];
  let code = b0 & (0xff >> (width + 1));
  for (let k = 1; k < width; k++) {
    const b = bytes[at + k]!;
    if ((b & 0xc0) !== 0x80) return [REPLACEMENT, 1];
    code = (code << 6) | (b & 0x3f);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are no UTF-8.
  const least = width === 2 ? 0x80 : width === 3 ? 0x800 : 0x10000;
  if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return [REPLACEMENT, 1];
  return [code, width];
}

/** Where `atoms` matched from `start` end in `value`, or -1. */
function matchAtoms(atoms: readonly Atom[], value: Buffer, start: number): number {
  let at = start;
  for (const atom of atoms) {
    if (at >= value.length) return -1;
    if (atom.kind === 'byte') {
      if (value[at] !== atom.byte) return -1;
      at++;
    } else if (atom.kind === 'one') {
      if (value[at] === SLASH) return -1;
      at += decode(value, at)[1];
    } else {
      const [code, width] = decode(value, at);
      if (atom.ranges.some(([lo, hi]) => lo <= code && code <= hi) === atom.negated) return -1;
      at += width;
    }
  }
  return at;
}

/**
 * Go's procedure: each chunk where the value goes on, else (after a `*`) at the first place
 * further on, never past a `/`, where it matches; the last chunk must end the value. No chunk is
 * tried again once a later one fails (Go does not either).
 */
function matches(chunks: readonly Chunk[], value: Buffer): boolean {
  let at = 0;
  for (let k = 0; k < chunks.length; k++) {
    const { star, atoms } = chunks[k]!;
    const last = k === chunks.length - 1;
    // A `*` at the end takes the rest, unless it holds a `/`.
    if (star && atoms.length === 0) return !value.subarray(at).includes(SLASH);
    const here = matchAtoms(atoms, value, at);
    if (here >= 0 && (!last || here === value.length)) {
      at = here;
      continue;
    }
    if (!star) return false;
    let next = -1;
    for (let skip = at; skip < value.length && value[skip] !== SLASH; skip++) {
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
