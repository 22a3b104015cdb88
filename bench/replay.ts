/**
 * `npm run bench:replay`: generates an audit log of LINES lines (default 1,000,000; `BENCH_LINES`
 * overrides) shaped like the lines regauth writes, then times `regauth replay` on it (the built
 * CLI, in its own process) plain and gzipped, and reports its peak RSS. Not part of `npm test`;
 * docs/performance.md quotes the figures with the machine.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import { generateSigningMaterial } from '../src/token/generate.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { imageNodeFlags } from '../test/helpers/image.js';

const ROOT = resolve(import.meta.dirname, '..');
const LINES = Number(process.env['BENCH_LINES'] ?? 1_000_000);
const ACCOUNTS = 2_000;
const REPOSITORIES = 200;

const tmp = tempDir('regauth-bench-replay-');
try {
  const { keyPem, certPem } = await generateSigningMaterial({
    alg: 'ES256',
    commonName: 'bench',
    validDays: 1,
  });
  writeFileSync(join(tmp.dir, 'token.key'), keyPem, { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'token.pem'), certPem);
  const users = Array.from(
    { length: ACCOUNTS },
    (_, i) => `  user${i}: {labels: {group: [${i % 10 === 0 ? 'ops' : 'devs'}]}}`,
  ).join('\n');
  const config = (acl: string) =>
    `token: {issuer: bench, key: token.key, certificate: token.pem}\nusers:\n${users}\nacl:\n${acl}`;
  const OLD = `  - {match: {account: "/.+/", name: "\${account}/**"}, actions: ["*"]}
  - {match: {labels: {group: devs}, name: "team/**"}, actions: [pull, push]}
  - {match: {labels: {group: ops}}, actions: [pull, push]}
`;
  const NEW = `  - {match: {account: "/.+/", name: "\${account}/**"}, actions: ["*"]}
  - {match: {labels: {group: devs}, name: "team/app1*"}, actions: [pull]}
  - {match: {labels: {group: devs}, name: "team/**"}, actions: [pull, push]}
  - {match: {labels: {group: ops}}, actions: [pull, push]}
`;
  writeFileSync(join(tmp.dir, 'old.yml'), config(OLD));
  writeFileSync(join(tmp.dir, 'new.yml'), config(NEW));

  const log = join(tmp.dir, 'audit.log');
  const out = createWriteStream(log);
  const start = Date.parse('2026-12-01T00:00:00Z');
  let batch = '';
  for (let i = 0; i < LINES; i++) {
    const account = `user${(i * 7919) % ACCOUNTS}`;
    const push = i % 3 === 0;
    const scope = `repository:team/app${(i * 31) % REPOSITORIES}:${push ? 'pull,push' : 'pull'}`;
    const ops = Number(account.slice(4)) % 10 === 0;
    const granted = push ? ['pull', 'push'] : ['pull'];
    const line =
      i % 10 === 9
        ? { level: 30, time: new Date(start + i * 50).toISOString(), service: 'regauth', msg: 'reloaded' }
        : {
            level: 30,
            time: new Date(start + i * 50).toISOString(),
            service: 'regauth',
            requestId: `r${i}`,
            method: 'GET',
            client: { ip: `10.0.${i % 4}.1`, via: null },
            outcome: 'granted',
            status: 200,
            grant: 'password',
            clientId: 'docker',
            account,
            requested: [scope],
            authenticator: 'users',
            granted: [scope],
            decisions: [{ scope, granted, rule: ops ? 2 : 1 }],
            ms: 1.234,
            msg: 'token issued',
          };
    // As pino writes it: the logger's `service` first, the request's later in the same object.
    batch += `${JSON.stringify(line).replace('"grant":"password"', '"grant":"password","service":"registry.test"')}\n`;
    if (batch.length > 1 << 20) {
      if (!out.write(batch)) await new Promise<void>((r) => out.once('drain', () => r()));
      batch = '';
    }
  }
  out.end(batch);
  await new Promise<void>((r) => out.once('finish', () => r()));
  await pipeline(createReadStream(log), createGzip(), createWriteStream(`${log}.gz`));

  const run = (file: string, args: string[]) => {
    const started = process.hrtime.bigint();
    const result = spawnSync(
      '/usr/bin/time',
      [
        '-f',
        '%M %U %S',
        process.execPath,
        ...imageNodeFlags(ROOT),
        join(ROOT, 'dist/cli/main.js'),
        'replay',
        '--audit',
        file,
        ...args,
        '--json',
      ],
      { cwd: tmp.dir, encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const [rssKb, user, sys] = result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [
      number,
      number,
      number,
    ];
    const report = JSON.parse(result.stdout) as { changes: unknown[]; distinct: number; requests: number };
    return { seconds, cpu: user + sys, rssMb: rssKb / 1024, code: result.status, ...report };
  };
  if (process.env['BENCH_KEEP']) console.log(`kept ${tmp.dir}`);
  const mb = (f: string) => (statSync(f).size / 1e6).toFixed(0);
  console.log(
    `regauth replay bench: Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim()}); ${LINES.toLocaleString('en-US')} lines, ${mb(log)} MB plain, ${mb(`${log}.gz`)} MB gzip`,
  );
  for (const [name, file, args] of [
    ['plain, against the recorded decisions', log, ['-c', 'new.yml']],
    ['gzip, against the recorded decisions', `${log}.gz`, ['-c', 'new.yml']],
    ['plain, --against old.yml', log, ['-c', 'new.yml', '--against', 'old.yml']],
  ] as const) {
    const r = run(file, [...args]);
    console.log(
      `| ${name.padEnd(40)} | ${r.seconds.toFixed(1)} s wall, ${r.cpu.toFixed(1)} s CPU | ${Math.round(LINES / r.cpu).toLocaleString('en-US')} lines per CPU second | peak RSS ${r.rssMb.toFixed(0)} MB | ${r.requests} requests, ${r.distinct} distinct, ${r.changes.length} changed, exit ${r.code} |`,
    );
  }
} finally {
  if (!process.env['BENCH_KEEP']) tmp.cleanup();
}
