#!/usr/bin/env node
/*
 * The `regauth` executable. For `serve`, SIGHUP is held before anything else loads (the CLI's
 * modules take a few hundred milliseconds): a reload asked for while starting happens once the
 * server has started. Everything else is in ./program.ts.
 */
import { holdSignal } from './held-signal.js';

const sighup = process.argv[2] === 'serve' ? holdSignal('SIGHUP') : undefined;
const { main } = await import('./program.js');
await main(sighup);
