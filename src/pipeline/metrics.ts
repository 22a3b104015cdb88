import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Authenticator } from '../authn/types.js';
import { CancelledError, ServerBusyError, TooManyRequestsError } from '../core/errors.js';

/**
 * The Prometheus metrics of one process, on their own registry (never prom-client's global
 * one), so every Service, and every test, has its own counters.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Token requests by outcome (granted, denied_all, denied, bad_request, locked, unavailable, error, cancelled) and grant type. */
  readonly tokenRequests: Counter<'outcome' | 'grant_type'>;
  readonly tokenDuration: Histogram<'outcome'>;
  /**
   * Per backend: how long authenticate() took when it authenticated (`authenticated`) or could
   * not answer (`error`). Failed logins are not observed per backend: which backend refused a
   * name, or how far down the chain it got, would tell who exists (docs/security.md "User
   * enumeration"); they are counted in `tokenRequests` (`denied`) and the audit log says why.
   */
  readonly authnDuration: Histogram<'backend' | 'result'>;
  readonly authnErrors: Counter<'backend'>;
  /**
   * Scopes that got fewer actions than requested, by the deciding rule (`none`: no rule matched
   * and nothing else was asked; `ext_authz`: no rule matched and the program decided).
   */
  readonly denials: Counter<'rule' | 'comment'>;
  readonly reloads: Counter<'result'>;
  /** Recent decisions a reload changed (log.recent_decisions), by direction: fewer or more grants. */
  readonly reloadDecisionChanges: Counter<'direction'>;
  /** (account, address) pairs locked by the brute-force protection. */
  readonly lockouts: Counter;
  /** Uncached logins in flight (waiting for or having their password checked): the login backlog. */
  readonly loginQueuePending: Gauge;
  /** Logins turned away by the login queue: `full` (503) or `per_client` (429). */
  readonly loginQueueRejections: Counter<'reason'>;
  /** 1 while the store (`store:`) answers, 0 while it cannot (Redis down or slow). */
  readonly storeUp: Gauge;
  /** Store operations that failed or timed out, by operation. */
  readonly storeErrors: Counter<'operation'>;
  /** Counts one token request in `tokenRequests` and `tokenDuration` (the token path's shortcut). */
  countTokenRequest(outcome: string, grantType: string, seconds: number): void;
}

/** Creates the metrics on a fresh registry; `defaults` adds Node's process metrics (CPU, memory, event loop). */
export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry, prefix: 'regauth_' });
  const registers = [registry];
  const tokenRequests = new Counter({
    name: 'regauth_token_requests_total',
    help: 'Token requests by outcome and grant type',
    labelNames: ['outcome', 'grant_type'],
    registers,
  });
  const tokenDuration = new Histogram({
    name: 'regauth_token_request_duration_seconds',
    help: 'Time to answer a token request',
    labelNames: ['outcome'],
    // bcrypt dominates: a few ms at cost 4, ~50 ms at 10, ~1 s at 14.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  // The labelled series, resolved once each: per call, prom-client would hash the label object again.
  const requestSeries = memo((outcome: string) =>
    memo((grantType: string) => tokenRequests.labels({ outcome, grant_type: grantType })),
  );
  const durationSeries = memo((outcome: string) => tokenDuration.labels({ outcome }));
  return {
    registry,
    tokenRequests,
    tokenDuration,
    countTokenRequest(outcome, grantType, seconds) {
      requestSeries(outcome)(grantType).inc();
      durationSeries(outcome).observe(seconds);
    },
    authnDuration: new Histogram({
      name: 'regauth_authenticator_duration_seconds',
      help: 'Time an authenticator took to authenticate (result="authenticated") or to fail (result="error"), by backend; refusals are not observed per backend',
      labelNames: ['backend', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    authnErrors: new Counter({
      name: 'regauth_authenticator_errors_total',
      help: 'Authenticator calls that could not answer (backend unavailable), by backend',
      labelNames: ['backend'],
      registers,
    }),
    denials: new Counter({
      name: 'regauth_authz_denials_total',
      help: 'Requested scopes granted fewer actions than asked, by deciding ACL rule (index; none: no rule matched; ext_authz: the program decided)',
      labelNames: ['rule', 'comment'],
      registers,
    }),
    reloads: new Counter({
      name: 'regauth_config_reloads_total',
      help: 'Config reloads by result (success, failure)',
      labelNames: ['result'],
      registers,
    }),
    reloadDecisionChanges: new Counter({
      name: 'regauth_reload_decision_changes_total',
      help: 'Recent decisions a config reload changed (log.recent_decisions), by direction (fewer, more grants)',
      labelNames: ['direction'],
      registers,
    }),
    lockouts: new Counter({
      name: 'regauth_lockouts_total',
      help: 'Times an (account, client address) pair was locked after repeated failures',
      registers,
    }),
    loginQueuePending: new Gauge({
      name: 'regauth_login_queue_pending',
      help: 'Uncached logins in flight (waiting for or having their password checked), at most login_queue.max_pending',
      registers,
    }),
    storeUp: new Gauge({
      name: 'regauth_store_up',
      help: 'Whether the store (store:) answers: 1 yes, 0 no (Redis unreachable or slower than store.timeout_ms); the memory store is always 1',
      registers,
    }),
    storeErrors: new Counter({
      name: 'regauth_store_errors_total',
      help: 'Store operations that failed or timed out, by operation (reserve, failure, success, release, blocked, mark, marked, ping)',
      labelNames: ['operation'],
      registers,
    }),
    loginQueueRejections: new Counter({
      name: 'regauth_login_queue_rejections_total',
      help: 'Logins answered at once because the login queue was full (reason="full", 503) or the client had login_queue.per_client in flight (reason="per_client", 429)',
      labelNames: ['reason'],
      registers,
    }),
  };
}

/**
 * Wraps an authenticator so its successes' latency and its errors are measured under its name
 * (a refusal, `denied` or `no_match`, is not: see {@link Metrics.authnDuration}), a success once
 * the chain answers with it, a decoy's outage among the errors.
 * A Proxy rather than a new object, so the backend keeps its class and every other member
 * (methods are bound to the backend itself, whose private fields a Proxy `this` cannot reach).
 */
export function instrumentAuthenticator<T extends Authenticator>(
  authenticator: T,
  metrics: Metrics,
): T & Required<Pick<Authenticator, 'remember'>> {
  const backend = authenticator.name;
  // The labelled series, resolved once: per call, prom-client would hash the label object again.
  const durations = memo((result: string) => metrics.authnDuration.labels({ backend, result }));
  const observe = (result: string, seconds: number) => durations(result).observe(seconds);
  // A success is observed once the chain answers with it (Authenticator.remember), as the
  // credential cache keeps one: the chain may still refuse it (an earlier backend asked under the
  // stored spelling refuses the password, or the name rule that spelling), and a refused login
  // observed as this backend's success would tell that its password was right. Held by the
  // request's password (one Secret per request, the same under a stored spelling).
  const pending = new WeakMap<object, number>();
  const authenticate: Authenticator['authenticate'] = async (credentials) => {
    const started = performance.now();
    try {
      const result = await authenticator.authenticate(credentials);
      if (result.outcome === 'authenticated') {
        pending.set(credentials.password ?? credentials, (performance.now() - started) / 1000);
      }
      return result;
    } catch (err) {
      // A request turned away (the login queue's or a command's bound), or one whose client hung
      // up (its run cancelled), is not the backend failing to answer: counting it would let one
      // client raise the backend's error alert.
      if (!(
        err instanceof TooManyRequestsError ||
        err instanceof ServerBusyError ||
        err instanceof CancelledError
      )) {
        observe('error', (performance.now() - started) / 1000);
        metrics.authnErrors.inc({ backend });
      }
      throw err;
    }
  };
  // An answer given at once is a success `authenticate` would have counted, once the chain
  // answers with it (it keeps it, src/authn/chain.ts answerNow).
  const given = authenticator.answerNow?.bind(authenticator);
  const answerNow: Authenticator['answerNow'] =
    given &&
    ((credentials) => {
      const started = performance.now();
      const result = given(credentials);
      if (result?.outcome === 'authenticated') {
        pending.set(credentials.password ?? credentials, (performance.now() - started) / 1000);
      }
      return result;
    });
  // A decoy that found the backend unable to answer met the error `authenticate` would have
  // thrown for a made-up name, and counts as that error: else /metrics would tell a name an
  // earlier backend holds (its denial withheld, 503) from a made-up one during an outage.
  const spend = authenticator.decoy?.bind(authenticator);
  const decoy: Authenticator['decoy'] =
    spend &&
    (async (credentials) => {
      const started = performance.now();
      const outage = await spend(credentials);
      if (outage !== undefined && !(outage instanceof CancelledError)) {
        observe('error', (performance.now() - started) / 1000);
        metrics.authnErrors.inc({ backend });
      }
      return outage;
    });
  const kept = authenticator.remember?.bind(authenticator);
  const remember: Authenticator['remember'] = (credentials) => {
    const key = credentials.password ?? credentials;
    const seconds = pending.get(key);
    if (seconds !== undefined) {
      pending.delete(key);
      observe('authenticated', seconds);
    }
    kept?.(credentials);
  };
  // Methods bound once, not on every property read (the token path reads a few per request).
  const bound = memo((method: (...a: unknown[]) => unknown) => method.bind(authenticator));
  // `remember` is always there: the success it observes is held here, whether the backend keeps one.
  return new Proxy(authenticator as T & Required<Pick<Authenticator, 'remember'>>, {
    get(target, prop) {
      if (prop === 'authenticate') return authenticate;
      if (prop === 'answerNow') return answerNow;
      if (prop === 'decoy') return decoy;
      if (prop === 'remember') return remember;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? bound(value as (...a: unknown[]) => unknown) : value;
    },
  });
}

/** `make(key)`, computed once per key. */
function memo<K, V>(make: (key: K) => V): (key: K) => V {
  const values = new Map<K, V>();
  return (key) => {
    let value = values.get(key);
    if (value === undefined) values.set(key, (value = make(key)));
    return value;
  };
}
