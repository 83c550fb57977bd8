#!/usr/bin/env node
// Every check is a new process under Nagios or keepalived, so start-up is the product's main cost:
// - this entry point is CommonJS: Node 20's ES module loader adds ~20 ms to every start (measured);
// - a check run goes straight to one esbuild bundle (dist/fast-path.cjs) holding the check and the same flag
//   parser the oclif commands use; help, version and the command list go through oclif, which alone costs
//   ~100 ms to load. VIPCHECK_OCLIF=1 forces the oclif path (tests prove both behave the same);
// - the bundle is compiled with a V8 code cache (see loadBundle below).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

// The Monitoring Plugins convention: -h is --help (also after a check name), and -V or --version anywhere
// prints the version.
const argv = process.argv.slice(2).some((a) => a === '-V' || a === '--version')
  ? ['--version']
  : process.argv.slice(2).map((a) => (a === '-h' ? '--help' : a));

function runOclif() {
  return import('@oclif/core').then(({execute}) => execute({dir: __filename, args: argv}));
}

/**
 * Loads dist/fast-path.cjs like require() would, but with V8's code cache for this check: the bytecode of
 * every function an earlier run of the same check compiled, so this run does not parse and compile them
 * again (measured: docs/benchmarks.md).
 *
 * Only a check run that went through the fast path and ended OK writes the cache (the bundle tells, through
 * `checkCompletedOk`, with the registry's name for the check): then the whole healthy path was compiled. A help
 * or version run, a usage error or a failed check would store a fraction of it (help: ~70 KB of top-level code
 * where an OK tcp run stores ~200 KB), and V8 would accept that poor cache for good. A run whose cache V8
 * rejected (another Node version or V8 flags) writes it again. Writing also removes the caches of other builds.
 *
 * V8 checks a cache only against the source length, so the file name also carries the bundle's size and
 * modification time: a rebuilt bundle never meets an old cache. Reading uses argv[0] only when it is a plain
 * word, and only files the bundle itself named can exist. Whoever can write dist/ can change the bundle
 * itself, so the cache adds no new trust. Without a writable dist/ the bundle simply compiles each time.
 */
function loadBundle(word) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const dist = path.join(__dirname, '..', 'dist');
  const file = path.join(dist, 'fast-path.cjs');
  const source = fs.readFileSync(file, 'utf8');
  const stat = fs.statSync(file);
  const stamp = `${stat.size}-${Math.trunc(stat.mtimeMs)}`;
  const cacheFileOf = (check) => path.join(dist, `fast-path.${check}.${stamp}.v8cache`);
  let cachedData;
  if (word) {
    try {
      cachedData = fs.readFileSync(cacheFileOf(word));
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(source), {filename: file, ...(cachedData ? {cachedData} : {})});
  const module = {exports: {}};
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dist);
  const hooks = {
    packageDir: path.join(__dirname, '..'),
    // A third-party plugin is an ES module; import() only works from a real module such as this one.
    importModule: (url) => import(url),
    checkCompletedOk(check) {
      if (check !== word || (cachedData && !script.cachedDataRejected)) return;
      writeCache(cacheFileOf(check), script.createCachedData());
      pruneCaches(dist, stamp);
    },
  };
  return {bundle: module.exports, hooks};
}

function writeCache(cacheFile, data) {
  const temporary = `${cacheFile}.${process.pid}`;
  try {
    // 'wx': never through a file (or symlink) that is already there.
    fs.writeFileSync(temporary, data, {flag: 'wx', mode: 0o644});
    fs.renameSync(temporary, cacheFile);
  } catch {
    try {
      fs.unlinkSync(temporary);
    } catch {
      // not writable: nothing was written
    }
  }
}

/** Removes the caches of other builds of the bundle (and any left by older versions under other names). */
function pruneCaches(dist, stamp) {
  try {
    for (const name of fs.readdirSync(dist)) {
      const cache = /^fast-path\.[a-z0-9-]+\.(\d+-\d+)\.v8cache$/.exec(name);
      if (cache && cache[1] !== stamp) fs.unlinkSync(path.join(dist, name));
    }
  } catch {
    // best effort: a stale cache is never used, only kept
  }
}

if (process.env.VIPCHECK_OCLIF === '1') {
  runOclif();
} else if (argv[0] === 'agent' && !argv.includes('--help')) {
  // The agent is a daemon: it loads its own modules (ES, from dist/agent) and needs none of oclif, whose start
  // also reads the user's data directory (an EACCES warning under systemd's ProtectHome).
  const {pathToFileURL} = require('node:url');
  import(pathToFileURL(path.join(__dirname, '..', 'dist', 'agent', 'main.js')).href).then((agent) => agent.agentMain(argv.slice(1)));
} else {
  // Only a plain word is looked up as a cache (never a path or an option).
  const word = /^[a-z][a-z0-9-]{0,31}$/.test(argv[0] ?? '') ? argv[0] : undefined;
  const {bundle, hooks} = loadBundle(word);
  bundle.runFastPath(argv, hooks).then((handled) => handled || runOclif());
}
