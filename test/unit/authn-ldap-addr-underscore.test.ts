import { afterAll, beforeAll, expect, test } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configErrors } from '../helpers/config.js';
import { tempDir, writeSigningKey } from '../helpers/fixtures.js';

// Found by a review of ldap_auth config. README: "regauth reads cesanta/docker_auth configs (`server`, `token`,
// `users`, `acl`, `ext_auth`, `ext_authz`, `ldap_auth`) unchanged; what it does not implement is
// refused at load by name". docker_auth dials ldap_auth.addr with Go's net package, which takes
// host names with an underscore: Docker Compose service and container names such as
// `ldap_server` or `project_openldap_1`, which Docker's DNS resolves. regauth's address pattern
// (`[A-Za-z0-9.-]+`) refuses them as "invalid address", so such a docker_auth config does not load.

const tmp = tempDir('regauth-review-ldap-addr-');
let head = '';
beforeAll(async () => {
  const { keyPath, certPath } = await writeSigningKey(tmp.dir);
  head = `token:\n  issuer: test\n  key: ${keyPath}\n  certificate: ${certPath}\n`;
  writeFileSync(join(tmp.dir, 'bind-pw'), 'pw\n');
});
afterAll(() => tmp.cleanup());

test.each(['ldap_server:389', 'project_openldap_1:389'])(
  'a docker_auth ldap_auth.addr naming a Compose host (%s) loads',
  (addr) => {
    const yaml =
      `${head}ldap_auth:\n  addr: "${addr}"\n  bind_dn: "cn=svc,dc=example,dc=org"\n` +
      '  bind_password_file: bind-pw\n  base: "dc=example,dc=org"\n  filter: "(uid=${account})"\n';
    expect(configErrors(yaml, tmp.dir)).toEqual([]);
  },
);
