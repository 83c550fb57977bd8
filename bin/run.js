#!/usr/bin/env node
// Every check is a new process under Nagios or keepalived, so start-up is the product's main cost. Check runs
// go straight to the check through one bundled file (the same parser and code oclif's commands call); help,
// version and the command list go through oclif, which alone costs ~100 ms to load.
// VIPCHECK_OCLIF=1 forces the oclif path (used by tests to prove both paths behave the same).
if (process.env.VIPCHECK_OCLIF !== '1') {
  const {runFastPath} = await import('../dist/fast-path.js');
  await runFastPath(process.argv.slice(2));
}
const {execute} = await import('@oclif/core');
await execute({dir: import.meta.url});
