/**
 * The known clients are `max_entries` in all. loggedInHere used to change the account's Map in
 * place and set the same Map again, which lru-cache does not measure again: every account stayed
 * at the size of its first client, and the table held many times the bound. Found by a review.
 */
import { expect, test } from 'vitest';
import { Lockout } from '../../src/guard/lockout.js';
import { LOCKOUT_POLICY } from '../helpers/lockout.js';

test('the known clients stay within max_entries in all', () => {
  const maxEntries = 160; // a sixteenth: 10 clients per account
  const lockout = new Lockout({ maxEntries, policy: () => LOCKOUT_POLICY });
  const accounts = 160;
  const perAccount = 10;
  for (let a = 0; a < accounts; a++)
    for (let c = 0; c < perAccount; c++) lockout.loggedInHere(`user${a}`, `10.${a}.0.${c}`);
  let known = 0;
  for (let a = 0; a < accounts; a++)
    for (let c = 0; c < perAccount; c++) if (lockout.knownClient(`user${a}`, `10.${a}.0.${c}`)) known++;
  expect(known).toBeLessThanOrEqual(maxEntries);
});
