// Runs inside a piscina worker thread (src/token/sign-pool.ts): signs one batch of JWS signing
// inputs with one key, synchronously, so the event loop hands over a turn's signatures in
// messages of up to the job's maxBatch signatures and is woken once for each. Plain CommonJS
// for the reasons given in src/authn/bcrypt-worker.cjs: the same file runs from src/ (tests) and
// dist/ (tsc copies it).
'use strict';
const { sign } = require('node:crypto');

/**
 * @param {{ hash: string, key: import('node:crypto').SignKeyObjectInput, inputs: string[] }} batch
 * @returns {string[]} each input's signature, base64url without padding, in order
 */
module.exports = function signBatch({ hash, key, inputs }) {
  const signatures = new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    signatures[i] = sign(hash, Buffer.from(inputs[i]), key).toString('base64url');
  }
  return signatures;
};
