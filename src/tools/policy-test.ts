import { UsageError } from '../core/errors.js';
import { isAccountName, shownAccount } from '../core/account-name.js';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { authorizeScope } from '../authz/chain.js';
import { isClientAddress } from '../authz/ip.js';
import { lineOf, parseYaml, utf8Text } from '../config/yaml.js';
import { BadRequestError, ConfigError, ConfigErrors, formatPath } from '../core/errors.js';
import { labelMap } from '../core/schema.js';
import { normalizeIp } from '../request/client-ip.js';
import { formatScope, parseScopes, type Scope } from '../request/scope.js';
import { defaultService, extAuthzFor, refusedService } from '../pipeline/pipeline.js';
import type { Runtime } from '../pipeline/runtime.js';
import {
  addressNote,
  addressRulesPassedOver,
  anonymousRefused,
  describeDecider,
  NO_ANONYMOUS,
  offlineLabels,
  scopeReport,
} from './check.js';

const KEYS = 'account, scope, expect, labels, service, ip, comment';

/** One expectation: `{account: alice, labels: {...}, scope: "repository:alice/app:push", expect: [push]}`. */
const expectation = z.strictObject(
  {
    account: z.string({ error: 'must be a string ("" for anonymous)' }),
    scope: z.string({ error: 'must be a scope string, e.g. "repository:team/app:pull,push"' }),
    expect: z.array(z.string({ error: 'actions must be strings' }), {
      error: 'must be the list of actions that should be granted ([] for none)',
    }),
    labels: labelMap.optional(),
    service: z.string({ error: 'must be a string' }).optional(),
    ip: z.string({ error: 'must be an IP address' }).optional(),
    comment: z.string({ error: 'must be a string' }).optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown key; expected one of ${KEYS}` : undefined,
  },
);

const testFile = z
  .array(expectation, { error: 'must be a YAML list of expectations ({account, scope, expect})' })
  .min(1, { error: 'the list holds no expectations; expected at least one {account, scope, expect}' });

/** The kind of file, for the head of its errors (`invalid test file x.yml:`). */
const WHAT = 'test file';

/** One expectation, parsed. */
export interface PolicyTest {
  /** `[3]`, and the line in the file when known. */
  readonly path: string;
  readonly line: number | undefined;
  readonly account: string;
  readonly scope: Scope;
  readonly expect: readonly string[];
  /** Absent: the labels the config's static users hold for the account (as a login would get). */
  readonly labels: Readonly<Record<string, readonly string[]>> | undefined;
  /** Absent: the only service `token.services` lists (as `check` assumes). */
  readonly service: string | undefined;
  readonly ip: string | null;
  readonly comment: string | undefined;
}

/** The outcome of one expectation. */
export interface PolicyTestResult {
  readonly test: PolicyTest;
  readonly passed: boolean;
  readonly granted: readonly string[];
  /** Who decided: `acl[2] "comment"`, `ext_authz (…)`, `no rule matched (deny by default)`. */
  readonly decidedBy: string;
}

/**
 * Reads a policy test file (a YAML list of expectations). Throws ConfigErrors naming the
 * entry and line of every malformed expectation (exit code 2).
 */
export function loadPolicyTests(file: string): PolicyTest[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError('', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed;
  try {
    parsed = parseYaml(utf8Text(bytes, file), file);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigErrors([err], file, WHAT) : err;
  }
  if (parsed.value === undefined || parsed.value === null) {
    throw new ConfigErrors(
      [
        new ConfigError(
          '',
          'the file is empty; expected a YAML list of expectations ({account, scope, expect})',
        ),
      ],
      file,
      WHAT,
    );
  }
  const result = testFile.safeParse(parsed.value);
  if (!result.success) {
    throw new ConfigErrors(
      result.error.issues.map((issue) => {
        const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
        // zod does not report the input by default: look the value up to tell "missing" from "wrong".
        const present = (issue.path as PropertyKey[]).reduce<unknown>(
          (v, k) =>
            v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined,
          parsed.value,
        );
        const message = issue.code === 'invalid_type' && present === undefined ? 'required' : issue.message;
        return new ConfigError(formatPath(path as PropertyKey[]), message, {
          line: lineOf(parsed, path as PropertyKey[]),
        });
      }),
      file,
      WHAT,
    );
  }
  const errors: ConfigError[] = [];
  const tests = result.data.flatMap((entry, i): PolicyTest[] => {
    const line = lineOf(parsed, [i]);
    const fail = (key: string, message: string) => {
      errors.push(new ConfigError(formatPath([i, key]), message, { line: lineOf(parsed, [i, key]) }));
      return [];
    };
    let scopes: Scope[];
    try {
      scopes = parseScopes([entry.scope]);
    } catch (err) {
      if (err instanceof BadRequestError) return fail('scope', err.message);
      throw err;
    }
    if (scopes.length !== 1) return fail('scope', 'must name exactly one resource');
    if (entry.ip !== undefined && !isClientAddress(entry.ip)) {
      return fail('ip', `invalid address ${JSON.stringify(entry.ip)}; expected an IPv4 or IPv6 address`);
    }
    return [
      {
        path: `[${i}]`,
        line,
        account: entry.account,
        scope: scopes[0]!,
        expect: [...new Set(entry.expect)].sort(),
        labels: entry.labels,
        service: entry.service,
        // As the token endpoint reads a client address: an IPv4-mapped one is the IPv4 address.
        ip: entry.ip === undefined ? null : normalizeIp(entry.ip),
        comment: entry.comment,
      },
    ];
  });
  if (errors.length > 0) throw new ConfigErrors(errors, file, WHAT);
  return tests;
}

/**
 * Runs expectations against a config's authorizers (`acl`, then `ext_authz`), exactly as the
 * token endpoint would decide. An expectation passes when the granted actions equal `expect`.
 */
export async function runPolicyTests(
  runtime: Runtime,
  tests: readonly PolicyTest[],
  /** Told a note about an expectation before it is decided (the rules on ip passed over). */
  note: (test: PolicyTest, text: string) => void = () => undefined,
): Promise<PolicyTestResult[]> {
  const results: PolicyTestResult[] = [];
  const services = runtime.config.token.services;
  for (const test of tests) {
    const service = test.service ?? defaultService(services);
    if (service === undefined) {
      // As `check` without --service: which service it means is not ours to guess (decided for
      // none, the endpoint's 400 would pass every expectation of a denial).
      const where = test.line === undefined ? test.path : `${test.path} (line ${test.line})`;
      throw new UsageError(
        `${where}: token.services lists ${services.join(', ')}: give this expectation the service: it is about (the token endpoint answers 400 for any other)`,
      );
    }
    const refused = refusedService(services, service, runtime.config.catalog?.service);
    if (refused !== undefined) {
      // The token endpoint answers 400 before anything is authorized: nothing is granted.
      const decidedBy = `the token endpoint: 400 ${refused} (token.services lists ${services.join(', ')})`;
      results.push({ test, passed: test.expect.length === 0, granted: [], decidedBy });
      continue;
    }
    if (!isAccountName(test.account)) {
      // So too for a name no login can use (docs/http-api.md "Account names").
      const decidedBy = 'the token endpoint: 400 invalid account name';
      results.push({ test, passed: test.expect.length === 0, granted: [], decidedBy });
      continue;
    }
    const offline = offlineLabels(runtime.config, test.account);
    if (anonymousRefused(runtime.config, test.account, offline)) {
      // And for an anonymous request without a `""` user: 401, nothing granted.
      results.push({ test, passed: test.expect.length === 0, granted: [], decidedBy: NO_ANONYMOUS });
      continue;
    }
    const request = {
      account: test.account,
      type: test.scope.type,
      name: test.scope.name,
      service,
      ip: test.ip,
      labels: test.labels ?? offline.labels,
      actions: test.scope.actions,
    };
    // Said before deciding: ext_authz, asked only for want of the address, may fail.
    const passedOver = addressRulesPassedOver(runtime.config.acl, request);
    if (passedOver.length > 0) note(test, `no ip: ${addressNote(passedOver)}`);
    const decision = await authorizeScope(runtime.config.acl, extAuthzFor(runtime, service), request);
    const decidedBy = describeDecider(scopeReport(runtime, test.scope, decision));
    const passed =
      decision.granted.length === test.expect.length &&
      decision.granted.every((a, i) => a === test.expect[i]);
    results.push({ test, passed, granted: decision.granted, decidedBy });
  }
  return results;
}

/** `FAIL [2] (line 7) alice repository:alice/app:push: granted [pull], expected [push]; decided by acl[3] "…"` */
export function formatFailure(result: PolicyTestResult): string {
  return `FAIL ${describeExpectation(result.test)}: granted [${result.granted.join(', ')}], expected [${result.test.expect.join(', ')}]; decided by ${result.decidedBy}`;
}

/** `[2] (line 7) "comment" alice repository:alice/app:push`: an expectation, for its failure or a note. */
export function describeExpectation(test: PolicyTest): string {
  const where = test.line === undefined ? test.path : `${test.path} (line ${test.line})`;
  const who = shownAccount(test.account);
  const comment = test.comment === undefined ? '' : ` ${JSON.stringify(test.comment)}`;
  return `${where}${comment} ${who} ${formatScope(test.scope)}`;
}
