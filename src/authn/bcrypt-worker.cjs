// Runs inside a piscina worker thread (src/authn/bcrypt-pool.ts): bcrypt is pure CPU, so the
// synchronous calls are right here; they block this worker, never the main event loop.
// Plain JavaScript on purpose: worker threads load files as they are, so the same file must
// run from src/ (vitest, tsx) and from dist/ (tsc copies it with allowJs). CommonJS on purpose:
// piscina loads a worker with require(), and Node 20's require() of an ES module crashed the
// process now and then (V8 fatal error "IsGraphAsync must be used on an instantiated module").
'use strict';
const bcrypt = require('bcryptjs');
const crypto = require('node:crypto');

/** A fixed salt (22 characters of bcrypt's base64): padding hashes nothing anyone keeps. */
const PAD_SALT = 'regauthpaddingsaltxxxu';

/**
 * Spends the work of bcrypt rounds from `from` up to `to` (exclusive): 2^from + … + 2^(to-1),
 * which is 2^to - 2^from, so a comparison at cost `from` plus this pad costs one at cost `to`.
 * @param {string} password
 * @param {number} from
 * @param {number} to
 */
function pad(password, from, to) {
  for (let cost = from; cost < to; cost++) {
    bcrypt.hashSync(password, `$2b$${String(cost).padStart(2, '0')}$${PAD_SALT}`);
  }
}

/**
 * Compares a password with a bcrypt hash. With `padTo`, a mismatch against a cheaper hash also
 * spends the difference, so every failed comparison costs one comparison at cost `padTo`
 * (a user whose hash has cost 5 is not told from one at cost 10, or from an unknown account).
 * @param {{ password: string, hash: string, padTo?: number }} task
 * @returns {boolean}
 */
function compare({ password, hash, padTo }) {
  const ok = bcrypt.compareSync(password, hash);
  if (!ok && padTo !== undefined) pad(password, bcrypt.getRounds(hash), padTo);
  return ok;
}

/**
 * Hashes a random value nobody knows, for the dummy comparison of unknown accounts.
 * @param {{ cost: number }} task
 * @returns {string}
 */
function dummyHash({ cost }) {
  return bcrypt.hashSync(crypto.randomUUID(), cost);
}

module.exports = { compare, dummyHash };
