import type { ExtCommandConfig } from '../ext/config.js';
import { BackendUnavailableError } from '../core/errors.js';
import { mappedIpv4 } from '../core/ip.js';
import { sortedUnique } from '../core/sorted.js';
import {
  backendCommand,
  describeExit,
  type BackendCommand,
  type CommandRunner,
  type CommandSlots,
} from '../ext/command.js';
import type { Logger } from '../core/log.js';
import type { AuthzRequest } from './types.js';

/** Per request: the client address (per-client bound) and a signal that cancels the run. */
export interface AuthorizeOptions {
  readonly client?: string;
  readonly signal?: AbortSignal;
}

/**
 * `ext_authz`: docker_auth's external authorizer protocol. The command gets the scope request
 * as JSON on stdin, with docker_auth's field names
 * (`{"Account","Type","Name","Service","IP","Actions","Labels"}`), and answers with its exit code:
 * 0 grants every requested action, 1 grants none; anything else, a signal or a timeout means it
 * cannot answer, and the request fails with 503 (BackendUnavailableError). Never a grant.
 */
export class ExtAuthorizer {
  readonly name = 'ext_authz';
  readonly #command: BackendCommand;
  /** How many scopes of one request it may be asked about (`ext_authz.max_calls_per_request`). */
  readonly maxCallsPerRequest: number;

  /** `slots`: the backend's counts of runs, kept across reloads (see CommandSlots). */
  constructor(config: ExtCommandConfig, runner?: CommandRunner, logger?: Logger, slots?: CommandSlots) {
    this.#command = backendCommand(this.name, config, runner, logger, slots);
    this.maxCallsPerRequest = config.maxCallsPerRequest ?? Infinity;
  }

  /** Kills the commands still running (shutdown, or a reload's grace period over). */
  close(): Promise<void> {
    return this.#command.close();
  }

  /** The granted actions (sorted): all requested ones, or none. */
  async authorize(request: AuthzRequest, options: AuthorizeOptions = {}): Promise<string[]> {
    const result = await this.#command.run(JSON.stringify(requestInfo(request)), options);
    if (result.code === 0) return sortedUnique([...request.actions]);
    if (result.code === 1) return [];
    throw new BackendUnavailableError(this.name, `command failed (${describeExit(result)})`);
  }
}

/**
 * docker_auth's `AuthRequestInfo`, as Go's encoding/json writes it: its field names, and `IP`
 * `""` when unknown (a nil net.IP marshals through MarshalText as the empty string).
 */
export function requestInfo(request: AuthzRequest): Record<string, unknown> {
  return {
    Account: request.account,
    Type: request.type,
    Name: request.name,
    Service: request.service,
    // Go's net.IP marshals an IPv4-mapped address as plain IPv4, however it was spelled.
    IP: request.ip === null ? '' : (mappedIpv4(request.ip) ?? request.ip),
    Actions: request.actions,
    Labels: request.labels,
  };
}
