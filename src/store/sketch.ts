import { hash, randomBytes } from 'node:crypto';

/**
 * What a bounded table pushed out, kept in fixed memory so that it is never underestimated: a
 * count-min sketch whose cells keep the largest value of each field put there. A record is
 * folded into one cell per row (rows × width cells, indexed by a keyed hash made per process, so
 * nobody outside can aim at a cell); reading a key gives, per field, the least of its cells.
 * Each cell holds at least the value of every record folded into it, so the reading is at least
 * what was folded for that key, and more when other keys share all its cells.
 *
 * The cells are allocated at the first fold: a table that never overflows costs nothing.
 */
export class OverflowSketch {
  readonly #fields: number;
  readonly #width: number;
  readonly #secret = randomBytes(32).toString('hex');
  #cells: Float64Array | undefined;
  /** Per field, the largest value ever folded (every cell is at most this). */
  readonly #max: number[];

  /** `fields` numbers per record; `capacity`: the entries of the table it backs (sets the width). */
  constructor(fields: number, capacity: number) {
    this.#fields = fields;
    this.#width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, 2 ** Math.ceil(Math.log2(2 * capacity))));
    this.#max = new Array<number>(fields).fill(0);
  }

  /** Whether nothing was ever folded. */
  get empty(): boolean {
    return this.#cells === undefined;
  }

  /** Per field, the largest value ever folded (zeros when empty): a bound on every reading. */
  get max(): readonly number[] {
    return this.#max;
  }

  /** Folds a record (`fields` numbers, none negative) in under `key`. */
  add(key: string, values: readonly number[]): void {
    const cells = (this.#cells ??= new Float64Array(ROWS * this.#width * this.#fields));
    const at = this.#offsets(key);
    for (let f = 0; f < this.#fields; f++) {
      const v = values[f]!;
      if (v > this.#max[f]!) this.#max[f] = v;
      for (const o of at) if (v > cells[o + f]!) cells[o + f] = v;
    }
  }

  /** Per field, the least of the key's cells: at least what was folded under it (zeros when empty). */
  read(key: string): number[] {
    const out = new Array<number>(this.#fields).fill(0);
    const cells = this.#cells;
    if (!cells) return out;
    const at = this.#offsets(key);
    for (let f = 0; f < this.#fields; f++) {
      let least = Infinity;
      for (const o of at) least = Math.min(least, cells[o + f]!);
      out[f] = least;
    }
    return out;
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
 * 4 rows × 1 Mi cells × 8 bytes: 32 MiB per field at most (the lockout's three pair fields and
 * two account fields: 160 MiB, from `max_entries` of 256 Ki up); 8 MiB for the default 10,000.
 */
const MAX_WIDTH = 2 ** 20;
