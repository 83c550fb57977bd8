#!/usr/bin/env node
// Every check is a new process under Nagios or keepalived, so start-up is the product's main cost:
// - this entry point is CommonJS: Node 20's ES module loader adds ~20 ms to every start (measured);
// - a check run goes straight to one esbuild bundle (dist/fast-path.cjs) holding the check and the same flag
//   parser the oclif commands use; help, version and the command list go through oclif, which alone costs
//   ~100 ms to load. VIPCHECK_OCLIF=1 forces the oclif path (tests prove both behave the same).
'use strict';

function runOclif() {
  return import('@oclif/core').then(({execute}) => execute({dir: __filename}));
}

if (process.env.VIPCHECK_OCLIF === '1') {
  runOclif();
} else {
  require('../dist/fast-path.cjs')
    .runFastPath(process.argv.slice(2))
    .then((handled) => handled || runOclif());
}
