import type { Logger } from '../core/log.js';
import type { Store } from '../store/types.js';
import type { Runtime } from './runtime.js';

/** One readiness check's result: `ok`, or why not (never a secret). */
export type CheckResult = 'ok' | string;

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** How long a successful signing-key check is trusted; probes come every few seconds. */
const KEY_CHECK_TTL_MS = 10_000;
const keyChecked = new WeakMap<Runtime, number>();

/** Why the x5c chain is no longer acceptable (a certificate past its end date), or undefined. */
function expiredCertificate(runtime: Runtime, nowMs: number): string | undefined {
  const key = runtime.config.token?.key;
  if (!key || key.x5c.length === 0) return undefined;
  for (const [i, cert] of key.certificates.entries()) {
    const notAfter = new Date(cert.validTo);
    if (notAfter.getTime() < nowMs) {
      const which = i === 0 ? 'the signing certificate' : `certificate ${i + 1} of the chain`;
      return `${which} expired at ${notAfter.toISOString()}; the registry refuses every token (x5c): replace the key`;
    }
  }
  return undefined;
}

/**
 * Readiness (`/readyz`): the config is loaded (there is a runtime), the signing key signs (and,
 * with x5c, its certificates have not expired since they were loaded),
 * and every authenticator with a `check()` (LDAP: the directory answers) passes within
 * `timeoutMs`. Cheap enough for a probe every few seconds: the key check is cached per runtime.
 */
export async function readiness(
  runtime: Runtime | undefined,
  options: { timeoutMs?: number; now?: () => number; store?: Store } = {},
): Promise<Readiness> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 2_000;
  if (!runtime) return { ready: false, checks: { config: 'not loaded' } };
  // The key check runs beside the others (each bounded by timeoutMs).
  const signingKey = checkKey(runtime, now, timeoutMs).then((result) =>
    // A certificate that expired while the process runs: with x5c, the registry verifies the
    // chain's dates on every token, so every token is refused until the key is replaced.
    result === 'ok' ? (expiredCertificate(runtime, now()) ?? 'ok') : result,
  );

  // A shared store (Redis) that cannot answer: logins that need the lockout are refused (or go
  // unlimited, `on_store_error`), so this replica is not ready; the reason says which.
  const store = options.store;
  const storeCheck =
    store && store.shared
      ? withTimeout(store.ping(), timeoutMs).then(
          () => 'ok',
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        )
      : undefined;
  const backends: Record<string, CheckResult> = {};
  await Promise.all(
    runtime.authenticators.map(async (authenticator) => {
      if (!authenticator.check) return;
      backends[authenticator.name] = await withTimeout(authenticator.check(), timeoutMs).then(
        () => 'ok',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
    }),
  );
  const checks: Record<string, CheckResult> = {
    config: 'ok',
    signing_key: await signingKey,
    ...backends,
    ...(storeCheck ? { store: await storeCheck } : {}),
  };
  return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
}

/** A key's test signature still unanswered: a later probe waits for it again (see checkKey). */
const pendingKeyCheck = new WeakMap<Runtime, Promise<unknown>>();

/**
 * Whether the signing key signs, trusted for KEY_CHECK_TTL_MS once it did. Bounded as the other
 * checks: a signing thread that never answers must not hold the probe (and every probe sharing
 * it: readinessProbe) open for good; and a signature it still owes is waited for again by the
 * next probe, not asked anew, so probes do not queue signatures behind it.
 */
async function checkKey(runtime: Runtime, now: () => number, timeoutMs: number): Promise<CheckResult> {
  const checkedAt = keyChecked.get(runtime);
  if (checkedAt !== undefined && now() - checkedAt < KEY_CHECK_TTL_MS) return 'ok';
  let signing = pendingKeyCheck.get(runtime);
  if (signing === undefined) {
    signing = runtime
      .sign({ subject: 'readyz', audience: 'readyz', access: [] }, Math.floor(now() / 1000), 60)
      .finally(() => pendingKeyCheck.delete(runtime));
    // Settled later, unawaited, when no probe waits any more: not an unhandled rejection.
    signing.catch(() => undefined);
    pendingKeyCheck.set(runtime, signing);
  }
  try {
    await withTimeout(signing, timeoutMs);
    keyChecked.set(runtime, now());
    return 'ok';
  } catch (err) {
    return `cannot sign: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Readiness with its reasons logged: `probe()` answers as {@link readiness} does. */
export interface ReadinessProbe {
  probe(runtime: Runtime | undefined): Promise<Readiness>;
}

/**
 * Readiness for the HTTP endpoints. The public `/readyz` says only ready or not (a reason can
 * name an internal address); the reasons go to the log, once per change (probes come every few
 * seconds), and in full to the metrics listener's `/readyz`.
 */
export function readinessProbe(logger: Logger, options: { store?: Store } = {}): ReadinessProbe {
  let last = 'ok';
  // The probe running now, which every probe of the same config asked meanwhile shares: the
  // checks open connections of their own (an LDAP session, a Redis PING), outside every
  // backend's bound, and one client can ask many probes at once (pipelined on one connection).
  let running: { runtime: Runtime | undefined; result: Promise<Readiness> } | undefined;
  const run = async (runtime: Runtime | undefined): Promise<Readiness> => {
    const result = await readiness(runtime, options.store ? { store: options.store } : {});
    const failing = result.ready ? 'ok' : JSON.stringify(result.checks);
    if (failing !== last) {
      if (result.ready) logger.info('ready again: every readiness check passes');
      else logger.warn({ checks: result.checks }, 'not ready: a readiness check fails');
      last = failing;
    }
    return result;
  };
  return {
    probe(runtime) {
      if (running && running.runtime === runtime) return running.result;
      const result = run(runtime).finally(() => {
        if (running?.result === result) running = undefined;
      });
      running = { runtime, result };
      return result;
    },
  };
}
