import { EncryptJWT, jwtDecrypt } from 'jose';
import * as client from 'openid-client';
import { labelsFrom } from '../authn/jwt/authenticator.js';
import { issueAppPassword } from './app-password.js';
import type { Labels } from '../authz/types.js';
import { MAX_FIELD_LENGTH } from '../request/token-request.js';
import type { OidcAuthConfig } from './config.js';
import { BackendUnavailableError, BadRequestError } from '../core/errors.js';
import { foldAccountName, isAccountName } from '../core/account-name.js';
import { failureReason, fetchAtMost } from '../core/fetch.js';
import type { Secret } from '../core/secret.js';
import { deriveKey } from './keys.js';
import { UiSessions } from './session.js';

/**
 * The login cookie's name. It holds state, nonce and PKCE verifier, encrypted, for 10 minutes.
 * Over https it is `__Host-regauth_oidc` (LOGIN_COOKIE_HOST): Secure, Path=/, no Domain, so no
 * sibling host can set or shadow it. Another service on another port of the same host can:
 * cookies are not kept apart by port (docs/backends/oidc.md "The login cookie").
 */
export const LOGIN_COOKIE = 'regauth_oidc';
export const LOGIN_COOKIE_HOST = `__Host-${LOGIN_COOKIE}`;
export const LOGIN_COOKIE_MAX_AGE = 600;

/** The callback page when the browser holds no login cookie. */
export const NOT_STARTED_HERE =
  'This sign-in was not started in this browser. If you did not start it, close this page and report it to your registry administrator: someone may have sent you this link to obtain a registry password in your name. If you did start it, sign in again.';

/**
 * Where the states of finished logins are remembered until their cookie expires, so that one
 * login cookie yields one app password: the HTTP layer keeps them in the store (`store:`), once
 * across replicas when it is shared.
 */
export interface LoginClaims {
  /** Marks `state` used until `expiresAt` (Unix seconds); false when it already was. */
  claim(state: string, expiresAt: number, now: number): boolean | Promise<boolean>;
  /**
   * Marks a claimed `state`'s login as done, once its answer is sure (the app password made, the
   * page's session cookie sealed): which login it was, for the callback asked again. Never throws.
   */
  done?(state: string, expiresAt: number, now: number, kind: LoginKind): Promise<void>;
  /**
   * What became of `state`: false when it is not used; `used` when it was claimed and no answer
   * is known done (a login that failed after the claim, or a mark lost); else the login's kind.
   */
  used?(state: string, now: number): UsedState | Promise<UsedState>;
}

/** Which login a callback finished: a registry page's (`page`) or an app password's (`app`). */
export type LoginKind = 'page' | 'app';
type UsedState = false | 'used' | LoginKind;

/** What the login cookie carries: the checks of the callback, and the page's path when the page started it. */
interface LoginChecks {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly exp: number;
  readonly ui?: unknown;
}

/** The callback page of an app password's login that finished, asked again without its cookie (a reload). */
export const FINISHED =
  'This sign-in is finished: its app password was shown once, on the page it opened. Sign in again for a new one.';

/** The same for a registry page's login: its callback opened the page, and no app password was shown. */
export const FINISHED_PAGE =
  'This sign-in is finished: it signed you in to the registry page. Sign in again from the registry page.';

/** The callback page of a login claimed and not known done (it failed after the claim). */
export const ALREADY_USED = 'This sign-in has already been used; sign in again.';

/** A callback asked again after its login finished; `byPage`: a registry page started that login. */
export class FinishedLoginError extends BadRequestError {
  constructor(readonly byPage: boolean) {
    super(byPage ? FINISHED_PAGE : FINISHED);
  }
}

/**
 * `error` of a callback as the page may show it: one of the error codes OAuth 2.0 and OpenID
 * Connect define for an authorization response, else undefined. Any other word the link's author
 * chose never reaches the page (`Account_locked.Call_555-0100` has the shape of a code).
 */
export function providerErrorCode(error: string): string | undefined {
  return PROVIDER_ERRORS.has(error) ? error : undefined;
}

/** RFC 6749 §4.1.2.1 and OpenID Connect Core 1.0 §3.1.2.6. */
const PROVIDER_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
  'invalid_request_uri',
  'invalid_request_object',
  'request_not_supported',
  'request_uri_not_supported',
  'registration_not_supported',
]);
const COOKIE_TYP = 'regauth-login+jwt';

/** Where to send the browser, and the cookie binding the callback to this browser. */
export interface LoginStart {
  readonly authorizationUrl: URL;
  readonly cookie: string;
}

/**
 * A login the registry page started (`/ui/`): no app password, the account and labels for its
 * session cookie, and the page to return to (a path under the page, checked when the login
 * started and again by the HTTP layer).
 */
export interface UiLoginResult {
  readonly flow: 'ui';
  readonly account: string;
  readonly labels: Labels;
  readonly returnTo: string;
  /** The claimed login, for LoginClaims.done once the page's session is sealed. */
  readonly login: { readonly state: string; readonly expiresAt: number };
}

/** What the callback page shows. */
export interface LoginResult {
  readonly account: string;
  readonly labels: Labels;
  readonly appPassword: Secret;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly registryUrl: string;
}

/**
 * The browser login of `oidc_auth`, free of HTTP: authorization code flow with PKCE at the
 * provider (openid-client), then an app password for the account the ID token names.
 * Provider metadata is discovered on first use and kept; a failed discovery is retried.
 */
export class OidcLogin {
  readonly #config: OidcAuthConfig;
  readonly #cookieKey: Uint8Array;
  /** The registry page's session cookies (src/oidc/session.ts), under the same secret. */
  readonly sessions: UiSessions;
  #provider: Promise<client.Configuration> | undefined;

  constructor(config: OidcAuthConfig) {
    this.#config = config;
    this.#cookieKey = deriveKey(config.secret, 'login-cookie-encryption');
    this.sessions = new UiSessions(config.secret);
  }

  /**
   * Starts a login: the provider's authorization URL and the encrypted cookie to set. With
   * `returnTo` (the registry page's path to come back to), the login is the page's: its callback
   * gives a {@link UiLoginResult} instead of an app password. Which flow it is travels inside the
   * encrypted cookie, so neither the provider nor the callback URL can change it.
   */
  async start(now: number, returnTo?: string): Promise<LoginStart> {
    const provider = await this.#discover();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(provider, {
      redirect_uri: this.#config.redirectUrl,
      scope: this.#config.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    // Encrypted, not only signed: the PKCE verifier is a secret, and proxies log cookies.
    const cookie = await new EncryptJWT({
      state,
      nonce,
      verifier,
      ...(returnTo !== undefined ? { ui: returnTo } : {}),
    })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: COOKIE_TYP })
      .setIssuedAt(now)
      .setExpirationTime(now + LOGIN_COOKIE_MAX_AGE)
      .encrypt(this.#cookieKey);
    return { authorizationUrl, cookie };
  }

  /**
   * Finishes a login from the callback's query string and the login cookie: checks state,
   * nonce and PKCE, exchanges the code, reads the account claim (from the ID token, else from
   * userinfo) and issues an app password. Throws BadRequestError (a stale or foreign callback,
   * a refused login) or BackendUnavailableError (the provider cannot be reached).
   */
  async finish(
    query: string,
    cookie: string | undefined,
    now: number,
    used: LoginClaims,
  ): Promise<LoginResult | UiLoginResult> {
    const params = new URLSearchParams(query);
    const error = params.get('error');
    if (error !== null) {
      const code = providerErrorCode(error);
      throw new BadRequestError(
        `The identity provider did not complete the sign-in (${code === undefined ? 'an unrecognised error code' : `error code ${code}`}).`,
      );
    }
    // A callback URL is a bearer secret: this is what the victim of a link someone else started
    // sees (the code stays unused), and they should know it.
    // The first answer cleared the cookie, so a reload of a finished login's page comes without
    // it too: its state is marked used, which no link someone else started can be.
    const state = params.get('state');
    const notThisBrowsers = async (): Promise<never> => {
      // A store that cannot answer leaves the warning, which is never wrong to show.
      const finished =
        state !== null && state !== ''
          ? await Promise.resolve(used.used?.(state, now)).catch(() => false)
          : false;
      if (finished === 'page' || finished === 'app') throw new FinishedLoginError(finished === 'page');
      throw new BadRequestError(finished === 'used' ? ALREADY_USED : NOT_STARTED_HERE);
    };
    // A cookie that does not open (expired, damaged, sealed under another secret, or planted by
    // another service on this host) cannot be this callback's either: warned of as none.
    const checks = cookie === undefined ? undefined : await this.#open(cookie, now);
    if (!checks) return notThisBrowsers();
    // A login cookie of this browser's own (a login it started, or one a page of the attacker's
    // started in it) with another state: the callback is still not this browser's, and warned of
    // as above, before anything is exchanged.
    if (state !== checks.state) return notThisBrowsers();
    const provider = await this.#discover();
    // The redirect URL as registered: behind a proxy the request's own URL differs.
    const callbackUrl = new URL(this.#config.redirectUrl);
    callbackUrl.search = params.toString();
    let claims: Record<string, unknown>;
    // Each answer as the provider gave it: `email_verified` speaks only for the address beside it.
    const answers: Record<string, unknown>[] = [];
    try {
      const tokens = await client.authorizationCodeGrant(provider, callbackUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      claims = { ...tokens.claims() };
      answers.push(claims);
      if (
        typeof claims[this.#config.userClaim] !== 'string' ||
        lacksLabelClaims(this.#config.labelClaims, claims)
      ) {
        const sub = String(claims['sub']);
        // Providers often put email, groups, … only in userinfo.
        if (provider.serverMetadata().userinfo_endpoint) {
          const userinfo = await client
            .fetchUserInfo(provider, tokens.access_token, sub)
            .catch((err: unknown) => Promise.reject(translate(err, 'userinfo')));
          answers.push(userinfo);
          claims = { ...userinfo, ...claims };
        }
      }
    } catch (err) {
      throw translate(err);
    }
    const account = claims[this.#config.userClaim];
    if (typeof account !== 'string' || account === '' || account.includes(':')) {
      // A Basic user name cannot hold a colon, so such an account could never log in.
      throw new BadRequestError(`the identity provider gave no usable ${this.#config.userClaim} claim`);
    }
    // The token endpoint's rule for account names (docs/http-api.md "Account names"): an app
    // password for any other name would be refused there, and a registry-page session would issue
    // tokens under a name that looks like another's.
    if (!isAccountName(account)) {
      throw new BadRequestError(
        `the identity provider gave a ${this.#config.userClaim} claim that cannot be an account name (no spaces, control or invisible characters, at most 256 characters)`,
      );
    }
    // An address the provider has not verified may be anyone's (many providers let users type
    // their own): as the account name it would hand out someone else's app password. The flag is
    // read from an answer that gives this address: an ID token saying `email_verified` without an
    // address says nothing about the one userinfo gives.
    if (
      this.#config.userClaim === 'email' &&
      !answers.some((answer) => answer['email'] === account && isVerified(answer['email_verified']))
    ) {
      throw new BadRequestError(
        'the identity provider has not verified this email address (email_verified); verify it there, or set user_claim to a claim users cannot choose',
      );
    }
    // While the account's `not_before` lies ahead, an app password or a registry-page session made
    // now would be refused at once (issued before that time): the page says so instead of showing
    // a credential that cannot work (the user's retries would only count towards the lockout).
    const notBefore = this.#config.notBefore.get(foldAccountName(account));
    if (notBefore !== undefined && now < notBefore) {
      throw new BadRequestError(
        `sign-in to this account is closed until ${new Date(notBefore * 1000).toISOString()} (oidc_auth.not_before): anything issued before then is refused`,
      );
    }
    // After the provider accepted the code (synchronously up to issuing): of two callbacks with
    // one cookie, only the first gets an app password.
    if (!(await used.claim(checks.state, checks.exp, now))) {
      throw new BadRequestError('this sign-in has already been used; sign in again');
    }
    const labels = labelsFrom(claims, this.#config.labelClaims);
    const login = { state: checks.state, expiresAt: checks.exp };
    if (typeof checks.ui === 'string') return { flow: 'ui', account, labels, returnTo: checks.ui, login };
    const issued = await issueAppPassword(this.#config, account, labels, now);
    // The token request's bound on a password (the POST grant's field; docker login's GET fits
    // it in node's header limit): an app password past it could never log in.
    const length = issued.password.reveal().length;
    if (length > MAX_FIELD_LENGTH) {
      throw new BadRequestError(
        `this account's labels (oidc_auth.label_claims) make an app password of ${length} characters, longer than the ${MAX_FIELD_LENGTH} a login accepts; ask your registry administrator to narrow label_claims`,
      );
    }
    await used.done?.(checks.state, checks.exp, now, 'app');
    return {
      account,
      labels,
      appPassword: issued.password,
      expiresAt: issued.expiresAt,
      registryUrl: this.#config.registryUrl,
    };
  }

  /**
   * Whether the login cookie is of a login the registry page started (its callback's failure then
   * sends the browser back to the page to sign in again, not to an app password's login).
   */
  async startedByPage(cookie: string | undefined, now: number): Promise<boolean> {
    return typeof (cookie === undefined ? undefined : await this.#open(cookie, now))?.ui === 'string';
  }

  /** The login cookie's checks, or undefined when it expired or was not sealed here. */
  async #open(cookie: string, now: number): Promise<LoginChecks | undefined> {
    try {
      const { payload } = await jwtDecrypt(cookie, this.#cookieKey, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        typ: COOKIE_TYP,
        currentDate: new Date(now * 1000),
      });
      return payload as unknown as LoginChecks;
    } catch {
      return undefined;
    }
  }

  #discover(): Promise<client.Configuration> {
    this.#provider ??= this.#discoverOnce().catch((err: unknown) => {
      this.#provider = undefined;
      throw err;
    });
    return this.#provider;
  }

  async #discoverOnce(): Promise<client.Configuration> {
    const issuer = new URL(this.#config.issuer);
    const secret = this.#config.clientSecret;
    try {
      return await client.discovery(
        issuer,
        this.#config.clientId,
        undefined,
        secret ? client.ClientSecretBasic(secret.reveal()) : client.None(),
        {
          timeout: this.#config.timeout,
          // Every answer of the provider (discovery, token endpoint, userinfo) is read up to
          // 1 MiB: this configuration keeps the fetch for its later requests.
          [client.customFetch]: (input, init) => fetchAtMost(input, init),
          // http:// issuers pass the config only on loopback (src/authn/jwt/config.ts).
          ...(issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
        },
      );
    } catch (err) {
      throw new BackendUnavailableError(
        'oidc_auth',
        `discovery failed for ${this.#config.issuer}: ${failureReason(err)}`,
        { cause: err },
      );
    }
  }
}

/**
 * openid-client's errors, translated once: the provider's answers (a bad code, a state or
 * nonce mismatch) are the login's fault (400); anything else means it could not be reached.
 */
function translate(err: unknown, asked: 'token' | 'userinfo' = 'token'): Error {
  if (err instanceof BackendUnavailableError || err instanceof BadRequestError) return err;
  // The provider not answering, or answering with no OAuth error (a proxy's 502 page), or with
  // a 5xx, or more than the fetch reads (openid-client wraps that error without a code): it is
  // down, not the login gone wrong.
  if (
    (err instanceof client.ClientError &&
      (err.code === undefined ||
        (PROVIDER_DOWN.has(err.code) && !(asked === 'token' && answeredTheClient(err))))) ||
    ((err instanceof client.ResponseBodyError || err instanceof client.WWWAuthenticateChallengeError) &&
      err.status >= 500)
  ) {
    return new BackendUnavailableError(
      'oidc_auth',
      `the identity provider cannot be reached: ${failureReason(err)}`,
      { cause: err },
    );
  }
  // An answer with a WWW-Authenticate challenge (Doorkeeper, GitLab's provider, sends one with
  // every error; so may a gateway that blocks a request) is read as its challenge, not its body:
  // below 500 it refused this login, whose code is the client's to choose.
  if (err instanceof client.ResponseBodyError || err instanceof client.AuthorizationResponseError) {
    return new LoginRefusedError({ error: err.error, status: 'status' in err ? err.status : undefined });
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    return new LoginRefusedError({ error: err.cause[0]?.parameters.error, status: err.status });
  }
  if (err instanceof client.ClientError) return new LoginRefusedError({ check: err.code });
  return new BackendUnavailableError(
    'oidc_auth',
    `the identity provider cannot be reached: ${failureReason(err)}`,
    {
      cause: err,
    },
  );
}

/**
 * A login the provider refused (an OAuth error in its answer, or in the callback), or whose answer
 * failed one of openid-client's checks (`check`): the browser's 400, with what the log needs to
 * tell a client secret the provider no longer takes (`invalid_client`, every login fails) from a
 * stale link (`invalid_grant`). The error code is the provider's, or the callback's (which a
 * browser can write): kept only when it is an OAuth error code's characters, at most 64.
 */
export class LoginRefusedError extends BadRequestError {
  readonly provider: { readonly error?: string; readonly status?: number; readonly check?: string };
  constructor(provider: { error?: unknown; status?: number | undefined; check?: string | undefined }) {
    super('the login could not be completed; sign in again');
    const error =
      typeof provider.error === 'string'
        ? OAUTH_ERROR_CODE.test(provider.error)
          ? provider.error
          : '(not an OAuth error code)'
        : undefined;
    this.provider = {
      ...(error !== undefined ? { error } : {}),
      ...(provider.status !== undefined ? { status: provider.status } : {}),
      ...(provider.check !== undefined ? { check: provider.check } : {}),
    };
  }

  /** A refusal that every login meets until the operator fixes the client's registration. */
  get misconfigured(): boolean {
    return this.provider.error === 'invalid_client' || this.provider.error === 'unauthorized_client';
  }
}

/** RFC 6749's characters of an error code (without the space), at most 64. */
const OAUTH_ERROR_CODE = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

/**
 * openid-client's codes for a provider that did not answer, or not as OAuth says it must: what
 * answered was no OAuth endpoint (a maintenance page, a 5xx; JSON cut short), so the login
 * itself did not go wrong (but see answeredTheClient).
 */
const PROVIDER_DOWN = new Set([
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_PARSE_ERROR',
]);

/**
 * A page that is no OAuth answer, with a 4xx status, from the token endpoint: a filter in front
 * of the provider (a WAF blocking what it takes for an injection) may answer what the client
 * sent, and the callback's `code` is the client's to choose: the login's failure, not an outage a
 * client could raise at will. (Nothing in the userinfo request is the client's: there a 4xx page
 * is an outage.)
 */
function answeredTheClient(err: Error): boolean {
  const status = (err.cause as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** `email_verified` as providers send it: `true`, or (some) the string `"true"`. */
function isVerified(value: unknown): boolean {
  return value === true || value === 'true';
}

/**
 * Whether the ID token's claims lack one that `label_claims` names (then userinfo is asked).
 * Own claims only: `toString` and `constructor` are in every object.
 */
export function lacksLabelClaims(
  labelClaims: Readonly<Record<string, string>>,
  claims: Record<string, unknown>,
): boolean {
  return Object.values(labelClaims).some((claim) => !Object.hasOwn(claims, claim));
}
