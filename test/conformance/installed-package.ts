/**
 * vipcheck as a user gets it: `npm pack` of this checkout, installed with `npm install -g` into an empty
 * prefix together with a plugin package. The addon builds on install (node-gyp against this Node's headers,
 * as scripts/install does), so this proves the tarball is complete.
 */
import {execFileSync} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {REPO_ROOT} from '../lab/harness.js';

export interface InstalledPrefix {
  readonly prefix: string;
  /** `<prefix>/bin/vipcheck`. */
  readonly bin: string;
  /** The packed vipcheck. */
  readonly tarball: string;
  /** The environment npm ran with (Node's own headers for node-gyp). */
  readonly npmEnv: NodeJS.ProcessEnv;
  remove(): void;
}

/**
 * Installs the packed vipcheck and the plugin packages, each packed too: `npm install -g <directory>` would only
 * symlink a directory, and a plugin's own imports of vipcheck/plugin-api then resolve from its real location.
 */
export function installPackedVipcheck(pluginDirs: readonly string[]): InstalledPrefix {
  const work = mkdtempSync(join(tmpdir(), 'vipcheck-pack-'));
  const prefix = join(work, 'prefix');
  const pack = (dir: string) => join(work, execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {cwd: dir, encoding: 'utf8'}).trim().split('\n').pop()!);
  const tarball = pack(REPO_ROOT);
  const plugins = pluginDirs.map(pack);
  const env: NodeJS.ProcessEnv = {...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false'};
  const nodePrefix = dirname(dirname(process.execPath));
  if (!env['npm_config_nodedir'] && existsSync(join(nodePrefix, 'include/node/node_api.h'))) env['npm_config_nodedir'] = nodePrefix;
  execFileSync('npm', ['install', '--global', '--prefix', prefix, tarball, ...plugins], {env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000});
  return {prefix, bin: join(prefix, 'bin', 'vipcheck'), tarball, npmEnv: env, remove: () => rmSync(work, {recursive: true, force: true})};
}
