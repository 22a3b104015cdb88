import { randomUUID } from 'node:crypto';
import type { Labels } from '../authz/types.js';
import type { ExtCommandConfig } from '../ext/config.js';
import { BackendUnavailableError } from '../core/errors.js';
import {
  backendCommand,
  describeExit,
  type BackendCommand,
  type CommandResult,
  type CommandRunner,
  type CommandSlots,
} from '../ext/command.js';
import type { Logger } from '../core/log.js';
import type { Authenticator, AuthnResult, Credentials } from './types.js';

/**
 * `ext_auth`: docker_auth's external authenticator protocol. The command gets `account password`
 * on stdin (one space, no newline, exactly as docker_auth writes it; never in argv or the
 * environment) and answers with its exit code:
 *
 * - 0: authenticated; stdout may hold `{"labels": {"group": ["devs"]}}` (empty stdout: no labels);
 * - 1: denied (wrong password);
 * - 2: no match (not mine: ask the next backend);
 * - anything else, a signal, a timeout, unparsable stdout: the backend cannot answer, so the
 *   request fails closed with 503 (BackendUnavailableError). Never a grant.
 */
export class ExtAuthenticator implements Authenticator {
  readonly name = 'ext_auth';
  readonly #command: BackendCommand;

  /** `slots`: the backend's counts of runs, kept across reloads (see CommandSlots). */
  constructor(config: ExtCommandConfig, runner?: CommandRunner, logger?: Logger, slots?: CommandSlots) {
    this.#command = backendCommand(this.name, config, runner, logger, slots);
  }

  async authenticate(credentials: Credentials): Promise<AuthnResult> {
    const { account, password } = credentials;
    const secret = password?.reveal() ?? '';
    if (!sendable(account, secret)) return { outcome: 'no_match' };
    return this.#answer(await this.#run(`${account} ${secret}`, secret, credentials, false));
  }

  /** What the command's run says; throws BackendUnavailableError when it could not answer. */
  #answer(result: CommandResult): AuthnResult {
    switch (result.code) {
      case 0:
        return { outcome: 'authenticated', labels: parseLabels(result.stdout, this.name) };
      case 1:
        return { outcome: 'denied', reason: 'denied by ext_auth' };
      case 2:
        return { outcome: 'no_match' };
      default:
        throw new BackendUnavailableError(this.name, `command failed (${describeExit(result)})`);
    }
  }

  /**
   * The work of a failed login for a made-up name, for a login an earlier backend denied (a
   * static user's wrong password): the command is run for `regauth-decoy-<uuid>` with the
   * password given, and its answer ignored; see Authenticator.decoy. Otherwise a made-up name
   * (which reaches the command) would take the command's time and a static user's wrong password
   * (which never does) would not. Never throws.
   */
  async decoy(credentials: Credentials): Promise<BackendUnavailableError | undefined> {
    const { account, password } = credentials;
    // An empty password reaches the command for a made-up name too; only no password does not,
    // nor a name the command is never given (a made-up `corp\nobody` runs nothing either).
    if (password === undefined) return undefined;
    const secret = password.reveal();
    if (!sendable(account, secret)) return undefined;
    try {
      this.#answer(await this.#run(`regauth-decoy-${randomUUID()} ${secret}`, secret, credentials, true));
      return undefined;
    } catch (err) {
      // The command could not answer: a made-up name would have got this (a decoy turned away by
      // a bound is skipped, as above).
      return err instanceof BackendUnavailableError ? err : undefined;
    }
  }

  /**
   * Runs the command for a request. Where the login queue bounds the command per client
   * (`enterQueue`), the run holds the request's place (taking one if it has none yet) and the
   * command's own per-client bound is not asked; otherwise that bound applies (`client`).
   */
  async #run(stdin: string, secret: string, { client, signal, enterQueue }: Credentials, decoy: boolean) {
    // A decoy turned away is skipped, not a request refused: the queue does not count it.
    const leave = enterQueue?.(decoy);
    try {
      return await this.#command.run(stdin, {
        redact: secret,
        ...(client !== undefined && enterQueue === undefined ? { client } : {}),
        ...(signal ? { signal } : {}),
      });
    } finally {
      leave?.();
    }
  }

  /** Kills the commands still running (shutdown, or a reload's grace period over). */
  close(): Promise<void> {
    return this.#command.close();
  }
}

/**
 * Whether a login is given to the command at all. It splits stdin at the first space: an account
 * with whitespace would be misread, and so would the empty one with a password (` alice PW`: a
 * shell's `read` drops the leading space and takes the account's name from the password), and
 * one with a backslash, which `read` without -r (docker_auth's example) drops: `a\lice` would
 * read as alice.
 */
function sendable(account: string, secret: string): boolean {
  return !/[\s\\]/.test(account) && !(account === '' && secret !== '');
}

/**
 * Parses the allow answer's stdout: empty, or `{"labels": {key: [values]}}` (a single string
 * value is taken as a one-value list, as in `users:`), read as docker_auth reads it with Go's
 * encoding/json: every key that folds to `labels` (`Labels`, `labelſ`), in the order written,
 * into one map (a second adds to it, `null` empties it), `null` for a label's values (none) or
 * one of them (`""`), and a top-level `null` as no labels. Anything else is an error: a command
 * that meant to say something we cannot read must not be taken as "no labels".
 */
export function parseLabels(stdout: string, backend: string): Labels {
  // Nothing at all is no labels; anything else is JSON, as Go's decoder reads it (white space
  // alone, a BOM or a no-break space around it, are refused there).
  if (stdout === '') return {};
  const text = stdout;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackendUnavailableError(backend, 'stdout is not JSON; expected {"labels": {...}} or nothing');
  }
  const bad = () =>
    new BackendUnavailableError(backend, 'stdout must be {"labels": {"name": ["value", ...]}}');
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw bad();
  // A Map, then fromEntries, which defines each key: assigned, a label named __proto__ would set
  // the object's prototype instead. JSON.parse keeps one of repeated keys: the members are read
  // from the text, in order.
  let labels: Map<string, string[]> | undefined;
  for (const [key, valueText] of objectMembers(text)) {
    if (key.replace(/\u017f/g, 's').toLowerCase() !== 'labels') continue;
    const decoded = JSON.parse(valueText) as unknown;
    if (decoded === null) {
      labels = undefined;
      continue;
    }
    if (typeof decoded !== 'object' || Array.isArray(decoded)) throw bad();
    labels ??= new Map();
    // Each member, repeats included: one that Go cannot read fails the answer, even where a
    // later one replaces it.
    for (const [name, text] of objectMembers(valueText)) {
      const values = JSON.parse(text) as unknown;
      if (values === null) labels.set(name, []);
      else if (typeof values === 'string') labels.set(name, [values]);
      else if (Array.isArray(values) && values.every((v) => v === null || typeof v === 'string')) {
        labels.set(
          name,
          values.map((v: string | null) => v ?? ''),
        );
      } else throw bad();
    }
  }
  return Object.fromEntries(labels ?? []);
}

/**
 * The members of the JSON object `text` (valid JSON, an object), each key decoded and its value
 * as written, in the order written, repeated keys included.
 */
function objectMembers(text: string): [string, string][] {
  const members: [string, string][] = [];
  let i = text.indexOf('{') + 1;
  const space = () => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  /** The index after the string that starts at `from`. */
  const stringEnd = (from: number) => {
    let j = from + 1;
    while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  /** The index of the `,` or `}` that ends the value starting at `from`. */
  const valueEnd = (from: number) => {
    let depth = 0;
    for (let j = from; j < text.length; j++) {
      const c = text[j];
      if (c === '"') j = stringEnd(j) - 1;
      else if (c === '{' || c === '[') depth++;
      else if ((c === '}' || c === ']') && depth-- === 0) return j;
      else if (c === ',' && depth === 0) return j;
    }
    return text.length;
  };
  for (space(); text[i] === '"'; space()) {
    const keyEnd = stringEnd(i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = keyEnd;
    space();
    i++; // the colon
    space();
    const end = valueEnd(i);
    members.push([key, text.slice(i, end)]);
    i = text[end] === ',' ? end + 1 : end;
  }
  return members;
}
