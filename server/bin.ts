#!/usr/bin/env -S node --max-semi-space-size=2
// The sandbox binary's entry (bundled to dist/runtime-client.mjs and into the single executable).
// The semi-space cap keeps the young generation small: a command printing gigabytes makes
// short-lived strings, and a large young generation shows up as ~50 MB more RSS.
import { exitOnError, runServerCommand } from './main.js';

runServerCommand(process.argv.slice(2)).catch(exitOnError);
