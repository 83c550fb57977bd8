#!/usr/bin/env node
// Every check is a new process under Nagios or keepalived, so start-up is the product's main cost. Check runs
// go straight to the check (the same parser and code oclif's commands call); help, version and the command
// list go through oclif, which alone costs ~100 ms to load. VIPCHECK_OCLIF=1 forces the oclif path.
const argv = process.argv.slice(2);
const command = argv[0];
if (process.env.VIPCHECK_OCLIF !== '1' && command && !command.startsWith('-')) {
  const {checkPlugins, wantsOclif} = await import('../dist/cli/registry.js');
  const load = checkPlugins[command];
  if (load && !wantsOclif(argv.slice(1))) {
    const {runCheckCommand} = await import('../dist/cli/run-check.js');
    await runCheckCommand(await load(), argv.slice(1));
  }
}
const {execute} = await import('@oclif/core');
await execute({dir: import.meta.url});
