import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfigText, type Config } from '../../src/config/load.js';
import { issueToken } from '../../src/pipeline/pipeline.js';
import { createRuntime } from '../../src/pipeline/runtime.js';
import { parseTokenRequest } from '../../src/request/token-request.js';
import { createRefreshTokens } from '../../src/token/refresh.js';
import { replayAudit } from '../../src/tools/replay.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

/**
 * Found by a review of 8738e14: replay refuses an oidc_auth refresh grant when the account's not_before
 * differs between --against and the config, compared as `Map.get` results. The server's
 * app-password fingerprint folds an absent entry to 0 (`?? 0`), so an entry at the epoch
 * ("1970-01-01T00:00:00Z", or anything up to a second before it, which rounds up to 0) gives the
 * same fingerprint as no entry: the server honours the token, replay reports "lose access".
 */
const NOW = 1_800_000_000;
const tmp = tempDir('regauth-review-r10-oidc-');
afterAll(() => tmp.cleanup());
let head = '';
let oidc = '';
const ACL = `acl:\n  - match: {account: "/.+/", name: "\${account}/**"}\n    actions: [pull]\n`;
const load = (yaml: string): Config => loadConfigText(yaml, { file: join(tmp.dir, 'config.yml') });

beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  const r = join(tmp.dir, 'r.key');
  const o = join(tmp.dir, 'o.key');
  writeFileSync(r, randomBytes(48).toString('base64'));
  writeFileSync(o, randomBytes(48).toString('base64'));
  head = `token:\n  issuer: t\n  key: ${keyPath}\n  certificate: ${certPath}\n  services: [reg]\n  refresh:\n    secret_file: ${r}\n`;
  oidc = `oidc_auth:\n  issuer: https://idp.example\n  client_id: c\n  redirect_url: https://auth.example/oidc/callback\n  registry_url: reg.example\n  secret_file: ${o}\n`;
});

test('--against: not_before at the epoch vs no entry: same fingerprint, the server honours, replay must too', async () => {
  const oldConfig = load(`${head}${oidc}${ACL}`);
  const newConfig = load(`${head}${oidc}  not_before:\n    erin: "1970-01-01T00:00:00Z"\n${ACL}`);
  expect(newConfig.oidc_auth!.notBefore.get('erin')).toBe(0);
  const fp = (await createRuntime(oldConfig).authenticators.find((a) => a.name === 'oidc_auth')!.lookup!(
    'erin',
  ))!.fingerprint;
  const token = (
    await createRefreshTokens(oldConfig.token.refresh!).issue(
      { account: 'erin', service: 'reg', authenticator: 'oidc_auth', fingerprint: fp, labels: {} },
      NOW,
    )
  ).reveal();
  const request = parseTokenRequest({
    method: 'POST',
    query: '',
    authorization: undefined,
    body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}&service=reg&client_id=docker&scope=${encodeURIComponent('repository:erin/app:pull')}`,
  });
  // The server under the new config honours it.
  const result = await issueToken(createRuntime(newConfig), request, { ip: '10.0.0.1', now: NOW + 60 });
  expect(result.decisions[0]!.decision.granted).toEqual(['pull']);
  const line = JSON.stringify({
    level: 30,
    time: new Date((NOW + 30) * 1000).toISOString(),
    account: 'erin',
    client: { ip: '10.0.0.1' },
    grant: 'refresh_token',
    service: 'reg',
    authenticator: 'oidc_auth',
    decisions: [{ scope: 'repository:erin/app:pull', granted: ['pull'], rule: 0 }],
  });
  const report = await replayAudit(
    [
      {
        name: 'audit.log',
        open: async function* () {
          yield `${line}\n`;
        },
      },
    ],
    { config: newConfig, against: oldConfig },
  );
  expect(report.changes).toEqual([]);
});
