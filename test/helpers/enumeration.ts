/**
 * Measures whether failed logins tell who exists (docs/security.md "User enumeration"): the
 * median answer time of a wrong password for a known account against that of a made-up
 * account, requests interleaved (ABBA) so a slow patch of a busy machine falls on both sides,
 * and the median of the differences of back-to-back pairs.
 * Shared by the e2e test (test/e2e/enumeration.test.ts) and `npm run bench`.
 */

/** One comparison: two credentials that must both fail, and look alike while failing. */
export interface EnumerationProbe {
  readonly name: string;
  /** `user:password` of a known account with a wrong password (or a refused credential). */
  readonly known: string;
  /** `user:password` of an account that exists nowhere. */
  readonly unknown: string;
}

export interface EnumerationResult {
  readonly name: string;
  /** Median milliseconds. */
  readonly known: number;
  readonly unknown: number;
  /**
   * |median of (known - unknown)| over adjacent pairs, in milliseconds: each pair ran back to
   * back, so a slow patch of the machine cancels out of its difference.
   */
  readonly gap: number;
  /** The bound the gap must stay within: 10 % of the slower median, at least 2 ms. */
  readonly bound: number;
  readonly samples: number;
}

/** Times `samples` failed logins of each kind against `<url>/auth`, interleaved. */
export async function measureEnumeration(
  url: string,
  probe: EnumerationProbe,
  options: { samples?: number; warmup?: number; service?: string } = {},
): Promise<EnumerationResult> {
  const samples = options.samples ?? 40;
  const service = options.service ?? 'registry.test';
  const target = `${url}/auth?service=${encodeURIComponent(service)}&scope=repository:team/app:pull`;
  const once = async (credentials: string): Promise<number> => {
    const started = performance.now();
    const res = await fetch(target, {
      headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
    });
    await res.arrayBuffer();
    const ms = performance.now() - started;
    if (res.status !== 401) throw new Error(`${probe.name}: expected 401, got ${res.status}`);
    return ms;
  };
  for (let i = 0; i < (options.warmup ?? 4); i++) {
    await once(probe.known);
    await once(probe.unknown);
  }
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < samples; i++) {
    // ABBA: neither kind always goes first.
    if (i % 2 === 0) {
      known.push(await once(probe.known));
      unknown.push(await once(probe.unknown));
    } else {
      unknown.push(await once(probe.unknown));
      known.push(await once(probe.known));
    }
  }
  const k = median(known);
  const u = median(unknown);
  return {
    name: probe.name,
    known: k,
    unknown: u,
    gap: Math.abs(median(known.map((ms, i) => ms - unknown[i]!))),
    bound: Math.max(0.1 * Math.max(k, u), 2),
    samples,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
