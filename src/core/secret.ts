import { timingSafeEqual, createHash } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * A password, bind password, client secret or token. Printing it in any way
 * (`String()`, `JSON.stringify`, `util.inspect`, template strings) gives `***`;
 * only `reveal()` returns the value, so a leak needs an explicit call.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get length(): number {
    return this.#value.length;
  }
  /** Constant-time comparison (hashing first hides length differences). */
  equals(other: Secret | string): boolean {
    const a = createHash('sha256').update(this.#value).digest();
    const b = createHash('sha256')
      .update(typeof other === 'string' ? other : other.reveal())
      .digest();
    return timingSafeEqual(a, b);
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [inspect.custom](): string {
    return 'Secret(***)';
  }
}
