import { hash, randomBytes } from 'node:crypto';

/** One generation of cells: what was folded from `openedAt` for one lifetime. */
interface Generation {
  readonly openedAt: number;
  readonly cells: Float64Array;
  /** Per field, the largest value folded into this generation. */
  readonly max: number[];
}

/**
 * What a bounded table pushed out, kept in fixed memory so that it is never underestimated while
 * it lives: a count-min sketch whose cells keep the largest value of each field put there. A
 * record is folded into one cell per row (rows × width cells, indexed by a keyed hash made per
 * process, so nobody outside can aim at a cell); reading a key gives, per field, the least of its
 * cells. Each cell holds at least the value of every record folded into it, so the reading is at
 * least what was folded for that key, and more when other keys share all its cells.
 *
 * Cells keep maxima, which never go down: left alone they would pair a count folded long ago
 * with a time folded since. So the cells come in generations: a record goes into the current
 * one; after `lifetime` (the longest a record lives once folded) the current one becomes the
 * previous and a new one opens; after two lifetimes the previous is dropped, every record in it
 * being over by then. A reading takes, per field, the larger of the two generations'.
 *
 * A generation's cells are allocated at its first fold: a table that never overflows costs nothing.
 */
export class OverflowSketch {
  readonly #fields: number;
  readonly #width: number;
  readonly #secret = randomBytes(32).toString('hex');
  #current: Generation | undefined;
  #previous: Generation | undefined;
  /** The longest lifetime asked for so far: a policy reloaded shorter drops nothing early. */
  #lifetime = 0;

  /** `fields` numbers per record; `capacity`: the entries of the table it backs (sets the width). */
  constructor(fields: number, capacity: number) {
    this.#fields = fields;
    this.#width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, 2 ** Math.ceil(Math.log2(2 * capacity))));
  }

  /** Whether nothing was folded, or everything folded was dropped (a reading is all zeros). */
  get empty(): boolean {
    return this.#current === undefined && this.#previous === undefined;
  }

  /**
   * Per field, the largest value folded into the generations still kept (zeros when none): a
   * bound on every reading. `now` and `lifetime` as for `add`.
   */
  max(now: number, lifetime: number): readonly number[] {
    this.#age(now, lifetime);
    const out = new Array<number>(this.#fields).fill(0);
    for (const g of [this.#current, this.#previous]) {
      if (g) for (let f = 0; f < this.#fields; f++) out[f] = Math.max(out[f]!, g.max[f]!);
    }
    return out;
  }

  /**
   * Folds a record (`fields` numbers, none negative) in under `key` at `now`; `lifetime`: the
   * milliseconds after which every record folded now is over (the longest one given so far holds).
   */
  add(key: string, values: readonly number[], now: number, lifetime: number): void {
    this.#age(now, lifetime);
    const g = (this.#current ??= {
      openedAt: now,
      cells: new Float64Array(ROWS * this.#width * this.#fields),
      max: new Array<number>(this.#fields).fill(0),
    });
    const at = this.#offsets(key);
    for (let f = 0; f < this.#fields; f++) {
      const v = values[f]!;
      if (v > g.max[f]!) g.max[f] = v;
      for (const o of at) if (v > g.cells[o + f]!) g.cells[o + f] = v;
    }
  }

  /** Per field, at least what was folded under `key` in the generations kept (zeros when none). */
  read(key: string, now: number, lifetime: number): number[] {
    this.#age(now, lifetime);
    const out = new Array<number>(this.#fields).fill(0);
    if (!this.#current && !this.#previous) return out;
    const at = this.#offsets(key);
    for (const g of [this.#current, this.#previous]) {
      if (!g) continue;
      for (let f = 0; f < this.#fields; f++) {
        let least = Infinity;
        for (const o of at) least = Math.min(least, g.cells[o + f]!);
        out[f] = Math.max(out[f]!, least);
      }
    }
    return out;
  }

  /** Moves the current generation to the previous after one lifetime; drops what is two old. */
  #age(now: number, lifetime: number): void {
    const span = (this.#lifetime = Math.max(this.#lifetime, lifetime));
    if (this.#current && now - this.#current.openedAt >= span) {
      this.#previous = this.#current;
      this.#current = undefined;
    }
    if (this.#previous && now - this.#previous.openedAt >= 2 * span) this.#previous = undefined;
  }

  #offsets(key: string): number[] {
    const digest = hash('sha256', `${this.#secret}${key}`, 'buffer');
    const offsets: number[] = [];
    for (let r = 0; r < ROWS; r++) {
      offsets.push((r * this.#width + (digest.readUInt32LE(4 * r) & (this.#width - 1))) * this.#fields);
    }
    return offsets;
  }
}

/** Rows of the sketch: a key is read wrong only when other keys fill all four of its cells. */
const ROWS = 4;
const MIN_WIDTH = 1024;
/**
 * 2 generations × 4 rows × 512 Ki cells × 8 bytes: 32 MiB per field at most (the lockout's three
 * pair fields and two account fields: 160 MiB, from `max_entries` of 128 Ki up); for the default
 * 10,000, 8 MiB per generation.
 */
const MAX_WIDTH = 2 ** 19;
