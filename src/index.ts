/**
 * regauth as a library: what an embedder needs to run the token server in its own process, issue
 * a token without HTTP, or check a config the way the CLI does. Only re-exports; each concept
 * lives in its own module. The CLI (`regauth`, src/cli) is built on the same functions.
 *
 * ```ts
 * import { createLogger, startService } from 'regauth';
 * const service = await startService({ configFile: 'config.yml', logger: (c) => createLogger(c.log) });
 * ```
 */

// Config: load and validate a YAML config (errors name the YAML path).
export { loadConfigFile, loadConfigText, type Config, type LoadOptions } from './config/load.js';

// The server: load, serve, reload, close.
export { startService, type Service, type ServiceOptions } from './service/service.js';
export { createLogger, type Logger, type LoggerOptions } from './core/log.js';

// The pipeline without HTTP: parse -> authenticate -> authorize -> sign.
export { createRuntime, closeRuntime, type Runtime, type RuntimeDeps } from './pipeline/runtime.js';
export { parseTokenRequest, type RawTokenRequest, type TokenRequest } from './request/token-request.js';
export {
  issueToken,
  type RequestContext,
  type ScopeDecision,
  type TokenResult,
} from './pipeline/pipeline.js';
export { Secret } from './core/secret.js';

// What the operator verbs do: lint, check, policy tests, password hashes, signing keys.
export { lintConfig, type LintWarning } from './tools/lint.js';
export { checkAccess, type CheckInput, type CheckResult, type ScopeReport } from './tools/check.js';
export {
  loadPolicyTests,
  runPolicyTests,
  type PolicyTest,
  type PolicyTestResult,
} from './tools/policy-test.js';
export { hashPassword } from './tools/hash.js';
export { keysInit, keysRotate, type KeyFiles, type KeysOptions } from './tools/keys.js';

// Errors: each has a stable `code` to switch on.
export {
  BackendUnavailableError,
  BadRequestError,
  ConfigError,
  ConfigErrors,
  InvalidGrantError,
  RegauthError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedGrantError,
  type ErrorCode,
} from './core/errors.js';
