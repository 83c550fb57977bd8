// The VM lab's scenarios: what the host asks a guest to do, and the results the guest hands back.
// Each scenario is one boot and one Node process in the guest (src/lab/vm/guest/*.ts, run from dist/), since
// every Node start costs about a second there and a boot about ten.

import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpAttempt } from '../http-client.js';
import { GUEST_SAFE_PATH, runGuest, type GuestResult } from './qemu.js';
import { VmLabUnavailable } from './kernel.js';

/** The checkout: this file is src/lab/vm/scenarios.ts or dist/lab/vm/scenarios.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');

export interface VmScenario {
  readonly description: string;
  /** Built JavaScript run in the guest, relative to the checkout. */
  readonly guestScript: string;
  readonly guestArgs: readonly string[];
  /** Guest kernel modules loaded before it starts. */
  readonly modules: readonly string[];
  /** Hard deadline of the whole boot. */
  readonly timeoutMs: number;
}

const DR_MODULES = ['ip_vs', 'ip_vs_rr', 'veth', 'bridge'];

export const SCENARIOS = {
  'keepalived-tcp-check': {
    description: "IPVS DR with keepalived's own TCP_CHECK: a real server that loses its VIP stays in the table and clients' requests fail",
    guestScript: 'dist/lab/vm/guest/keepalived-dr.js',
    guestArgs: ['--check', 'tcp'],
    modules: DR_MODULES,
    timeoutMs: 300_000,
  },
  'keepalived-misc-check': {
    description: 'IPVS DR with MISC_CHECK running vipcheck tcp --exit-codes keepalived: the real server that loses its VIP is removed, clients never fail',
    guestScript: 'dist/lab/vm/guest/keepalived-dr.js',
    guestArgs: ['--check', 'misc'],
    modules: DR_MODULES,
    timeoutMs: 300_000,
  },
} as const satisfies Record<string, VmScenario>;

export type ScenarioName = keyof typeof SCENARIOS;

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}

/** Milliseconds since keepalived started, and the real servers in the IPVS table from then on. */
export interface TableSnapshot {
  atMs: number;
  realServers: string[];
}

/** What the keepalived-dr guest script writes to result.json. */
export interface KeepalivedDrResult {
  check: 'tcp' | 'misc';
  vip: string;
  port: number;
  hosts: { good: string; novip: string; closed: string };
  /** The keepalived.conf used. */
  config: string;
  /** Node start to the end of createLab() in the guest. */
  labSetupMs: number;
  /** keepalived start to the moment both good and novip (VIP still present) were in the table. */
  bothUpAfterMs: number | null;
  /** Milliseconds after the VIP was removed from novip's lo until keepalived took novip out; null if it never did. */
  novipRemovedAfterMs: number | null;
  /** How long the table was watched after the VIP was removed. */
  watchedAfterFaultMs: number;
  /** Every change of the table's real servers (the first entry is the table right after keepalived started). */
  timeline: TableSnapshot[];
  /** The table after the client's requests. */
  tableAfterRequests: string[];
  requests: HttpAttempt[];
  /** Tail of keepalived's own log (stderr/stdout). */
  keepalivedLog: string;
  /** Total time of the guest script. */
  totalMs: number;
}

export interface ScenarioRun<T> {
  guest: GuestResult;
  /** The guest's result.json; null when the scenario did not produce one (see guest.output). */
  result: T | null;
}

export interface RunScenarioOptions {
  /** Serial console on this terminal and a root shell after the scenario (keep-up mode). */
  interactive?: boolean;
  timeoutMs?: number;
  onConsoleLine?: (line: string) => void;
}

function checkPathForGuest(label: string, path: string): string {
  // keepalived splits misc_path on whitespace and the scenario line is plain shell: keep paths simple.
  if (!GUEST_SAFE_PATH.test(path)) throw new VmLabUnavailable(`${label} ${JSON.stringify(path)} must be an absolute path without spaces or shell characters`);
  return path;
}

/** The scenario.sh of a scenario: one exec of Node on the built guest script, results into the share. */
export function scenarioScript(scenario: VmScenario, node = process.execPath, repo = REPO_ROOT): string {
  const script = join(checkPathForGuest('the checkout', repo), scenario.guestScript);
  return [
    '#!/bin/sh',
    `# ${scenario.description}`,
    `exec ${checkPathForGuest('node', node)} ${script} ${scenario.guestArgs.join(' ')} --out "$VIPCHECK_VM_SHARE/result.json"`,
    '',
  ].join('\n');
}

/** Boots a guest for one scenario and returns its parsed result. Throws VmLabUnavailable when it cannot run here. */
export async function runScenario<T = KeepalivedDrResult>(name: ScenarioName, options: RunScenarioOptions = {}): Promise<ScenarioRun<T>> {
  const scenario: VmScenario = SCENARIOS[name];
  const script = join(REPO_ROOT, scenario.guestScript);
  if (!existsSync(script)) throw new VmLabUnavailable(`${script} is missing: build first (npm run build)`);
  const guest = await runGuest({
    script: scenarioScript(scenario),
    modules: scenario.modules,
    // node's installation prefix (bin/node, lib/...) and the checkout, wherever they are.
    keepPaths: [REPO_ROOT, dirname(dirname(realpathSync(process.execPath)))],
    timeoutMs: options.timeoutMs ?? scenario.timeoutMs,
    ...(options.interactive !== undefined ? { interactive: options.interactive } : {}),
    ...(options.onConsoleLine ? { onConsoleLine: options.onConsoleLine } : {}),
  });
  const text = guest.files['result.json'];
  let result: T | null = null;
  if (text !== undefined) {
    try {
      result = JSON.parse(text) as T;
    } catch {
      result = null;
    }
  }
  return { guest, result };
}
