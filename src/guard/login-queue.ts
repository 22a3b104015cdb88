import type { LoginQueueConfig } from './config.js';
import { ServerBusyError, TooManyRequestsError } from '../core/errors.js';
import { clientKey } from '../core/ip.js';

/**
 * The `login_queue:` policy, and `lockout.ipv6_prefix`: an IPv6 client is counted by its network,
 * as the lockout counts it.
 */
export type LoginQueuePolicy = Pick<LoginQueueConfig, 'max_pending' | 'per_client' | 'retry_after'> & {
  readonly ipv6_prefix: number;
};

/** Why a login was turned away: the whole queue is full, or this client has too many in it. */
export type LoginQueueRejection = 'full' | 'per_client';

/**
 * A bound on the logins whose password is still to be checked (bcrypt in the worker pool, a
 * directory bind): at most `max_pending` in flight in the process, and `per_client` per client
 * (an IPv6 client: its network of `lockout.ipv6_prefix` bits, as the lockout counts it). Past
 * either bound a login is answered at once (503 or 429, with Retry-After) instead of waiting
 * behind an unbounded queue: 300 made-up logins in flight used to make a real first
 * login wait 7 s. A login the credential cache answers (for a client that logged in from there:
 * Credentials.uncached) never enters it, so such logins are answered however full it is. A
 * request guard beside the pipeline, like the lockout; the count lives in the process and
 * outlives reloads (the policy is read per call).
 */
export class LoginQueue {
  #pending = 0;
  readonly #perClient = new Map<string, number>();
  readonly #policy: () => LoginQueuePolicy;
  readonly #onChange: ((pending: number) => void) | undefined;
  readonly #onReject: ((reason: LoginQueueRejection) => void) | undefined;

  constructor(options: {
    policy: () => LoginQueuePolicy;
    /** Called with the new backlog whenever it changes (the gauge). */
    onChange?: (pending: number) => void;
    /** Called for every login turned away (the counter). */
    onReject?: (reason: LoginQueueRejection) => void;
  }) {
    this.#policy = options.policy;
    this.#onChange = options.onChange;
    this.#onReject = options.onReject;
  }

  /** Uncached logins in flight now. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Takes a place for one uncached login from `ip`, or throws: TooManyRequestsError when this
   * client has `per_client` in flight, ServerBusyError when the process has `max_pending`.
   * Returns the function that gives the place back (calling it again does nothing). `quiet`: a
   * refusal is not counted (work the request can do without, such as a decoy, was turned away,
   * not the request).
   */
  enter(ip: string | null, quiet = false): () => void {
    const policy = this.#policy();
    const client = clientKey(ip, policy.ipv6_prefix);
    const mine = this.#perClient.get(client) ?? 0;
    if (mine >= policy.per_client) {
      if (!quiet) this.#onReject?.('per_client');
      throw new TooManyRequestsError(
        policy.retry_after,
        'too many logins in progress from this address, retry later',
      );
    }
    if (this.#pending >= policy.max_pending) {
      if (!quiet) this.#onReject?.('full');
      throw new ServerBusyError(policy.retry_after);
    }
    this.#perClient.set(client, mine + 1);
    this.#pending += 1;
    this.#onChange?.(this.#pending);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
      this.#pending -= 1;
      this.#onChange?.(this.#pending);
    };
  }
}

/**
 * Runs a token request's work within the login queue when `queued()` says it needs a place: a
 * login whose password still has to be checked (the credential cache holds no success for it, or
 * does not answer its client: Credentials.uncached), and with `ext_auth` any request that may run
 * its command (Runtime.queued). Other requests (cached logins, refresh grants) run at
 * once. `run` is told whether the request holds a place (its per-client bound was met here,
 * before any password).
 */
export function withLoginQueue<T>(
  queue: LoginQueue | undefined,
  attempt: { readonly ip: string | null; readonly queued: () => boolean },
  run: (admitted: boolean) => Promise<T>,
): Promise<T> {
  // Not itself async: a cached login, the most frequent request, is run() without a promise of
  // its own around it.
  if (!queue || !attempt.queued()) return run(false);
  return queued(queue, attempt.ip, run);
}

async function queued<T>(
  queue: LoginQueue,
  ip: string | null,
  run: (admitted: boolean) => Promise<T>,
): Promise<T> {
  const leave = queue.enter(ip);
  try {
    return await run(true);
  } finally {
    leave();
  }
}
