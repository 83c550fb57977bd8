#!/usr/bin/env node
// Which property accesses went megamorphic, from a V8 IC log: run the agent (or any node process) with
//   --log-ic --logfile=/tmp/ic.log --no-logfile-per-isolate
// (bench/agent.ts: --node-flags="..." with those flags), then: node bench/ic-sites.cjs /tmp/ic.log [pattern]
// Each line is one access site whose inline cache became megamorphic (state N): the IC kind, the function, its
// script position, and the property. Megamorphic loads in a per-frame or per-check path are slow on every call;
// an object built with one literal of fixed shape keeps them monomorphic (docs/benchmarks.md, 2026-12-03).
// `pattern` (a regular expression, default `dist/`) keeps the functions of interest.
'use strict';
const {readFileSync} = require('node:fs');

const [file, pattern = 'dist/'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/ic-sites.cjs IC-LOG [PATTERN]');
  process.exit(2);
}
const keep = new RegExp(pattern);
/** Code objects by start address, as the log creates them; a later one at an address replaces an earlier one. */
const codes = [];
const sites = new Map();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (line.startsWith('code-creation,')) {
    const f = line.split(',');
    const start = parseInt(f[4], 16);
    codes.push({start, end: start + Number(f[5]), name: f.slice(6).join(',')});
  } else if (/^(Keyed)?(Load|Store)IC,/.test(line)) {
    const f = line.split(',');
    if (f[6] !== 'N') continue;
    const pc = parseInt(f[1], 16);
    let name = '?';
    for (let i = codes.length - 1; i >= 0; i--) {
      if (pc >= codes[i].start && pc < codes[i].end) {
        name = codes[i].name.replace(/"/g, '');
        break;
      }
    }
    if (!keep.test(name)) continue;
    const site = `${f[0]} ${name.replace(/file:\/\/\S*?\/dist\//, 'dist/').slice(0, 120)} line ${f[3]}:${f[4]} .${f[8]}`;
    sites.set(site, (sites.get(site) ?? 0) + 1);
  }
}
for (const site of sites.keys()) console.log(site);
console.error(`${sites.size} megamorphic sites matching /${pattern}/`);
