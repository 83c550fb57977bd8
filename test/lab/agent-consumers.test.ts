/**
 * `vipcheck agent` as its consumers see it, in the namespace lab, from the director: Prometheus' own linter
 * (`promtool check metrics`) on /metrics; /status against its published schema
 * (docs/schema/agent-status.schema.json); the status page in headless Chromium, read from the rendered DOM and
 * a screenshot as a person would read it; the agent as the systemd unit runs it (an unprivileged user with only
 * CAP_NET_RAW and CAP_NET_ADMIN, no new privileges); and the unit itself through `systemd-analyze verify`.
 */
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import {copyFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {inflateSync} from 'node:zlib';
import type {Lab} from '../../src/lab/lab.js';
import {AgentProcess} from '../support/agent-process.js';
import {REPO_ROOT, VIPCHECK_BIN, describeLab} from './harness.js';

const require = createRequire(import.meta.url);
// ajv's draft 2020-12 build; a CommonJS module whose default export is the class (as test/support/result-schema.ts).
const Ajv2020 = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js').default;
const STATUS_SCHEMA = fileURLToPath(new URL('../../docs/schema/agent-status.schema.json', import.meta.url));
const UNIT_FILE = fileURLToPath(new URL('../../contrib/systemd/vipcheck-agent.service', import.meta.url));

const PORT = 9472;
const UNPRIVILEGED_PORT = 9473;
const CHROMIUM_TIMEOUT_MS = 30_000;

/** Whether a tool is installed (scripts/install installs promtool and chromium); under CI a missing one fails. */
function requireTool(ctx: Mocha.Context, tool: string, installedBy: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], {encoding: 'utf8'}).status === 0;
  if (found) return;
  const message = `${tool} is not installed (Debian package ${installedBy}; ./scripts/install installs it)`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true, so this is a failure, not a skip)`);
  console.warn(`      skipped: ${message}`);
  ctx.skip();
}

interface ProcInfo {
  readonly pid: number;
  readonly pgid: number;
  readonly state: string;
  readonly comm: string;
  readonly cmdline: string;
}

/** Every process of this PID namespace, from /proc. */
function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.push({pid: Number(name), pgid: Number(fields[2]), state: fields[0]!, comm: stat.slice(stat.indexOf('(') + 1, close), cmdline});
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Live (not zombie) processes of a Chromium run: its process group, and what carries its directory (crashpad). */
function chromiumLeftovers(pgid: number, dir: string): ProcInfo[] {
  return processes().filter((p) => p.state !== 'Z' && p.state !== 'X' && (p.pgid === pgid || p.cmdline.includes(dir)));
}

function killAll(list: readonly ProcInfo[]): void {
  for (const p of list) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs headless Chromium inside a lab namespace with its profile and HOME under `dir`, in its own process
 * group, killed with everything it started (renderers, zygotes, the crashpad handlers that leave the group)
 * when it ends or after CHROMIUM_TIMEOUT_MS. Resolves once none of them is alive any more.
 */
async function chromium(lab: Lab, dir: string, args: readonly string[]): Promise<{code: number | null; stdout: string; stderr: string; timedOut: boolean}> {
  mkdirSync(join(dir, 'home'), {recursive: true});
  const argv = [
    'netns', 'exec', lab.nsOf('director'),
    'chromium', '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    '--no-default-browser-check', '--disable-extensions', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`,
    ...args,
  ];
  const child = spawn('ip', argv, {detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, HOME: join(dir, 'home')}});
  const pgid = child.pid!;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-100_000)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killAll(chromiumLeftovers(pgid, dir));
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }, CHROMIUM_TIMEOUT_MS);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    return {code, stdout, stderr, timedOut};
  } finally {
    clearTimeout(timer);
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the group is gone
    }
    const deadline = Date.now() + 5000;
    for (;;) {
      const left = chromiumLeftovers(pgid, dir);
      if (left.length === 0) break;
      killAll(left);
      if (Date.now() > deadline) throw new Error(`Chromium processes survive: ${left.map((p) => `${p.pid} ${p.comm}`).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's --screenshot writes), as RGBA. */
function decodePng(png: Buffer): {width: number; height: number; rgba: Uint8Array} {
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG signature');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.equal(body[8], 8, 'bit depth 8');
      colorType = body[9]!;
      assert.ok(colorType === 2 || colorType === 6, `colour type ${colorType}`);
      assert.equal(body[12], 0, 'not interlaced');
    } else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const channels = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      let predicted = 0;
      if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(pixels.subarray(i * channels, i * channels + 3), i * 4);
    rgba[i * 4 + 3] = channels === 4 ? pixels[i * channels + 3]! : 255;
  }
  return {width, height, rgba};
}

/** Pixels within `tolerance` of a colour (per channel). */
function countColour(image: {rgba: Uint8Array}, [r, g, b]: readonly [number, number, number], tolerance = 12): number {
  let n = 0;
  for (let i = 0; i < image.rgba.length; i += 4) {
    if (Math.abs(image.rgba[i]! - r) <= tolerance && Math.abs(image.rgba[i + 1]! - g) <= tolerance && Math.abs(image.rgba[i + 2]! - b) <= tolerance) n++;
  }
  return n;
}

/** The `<tr>` of a real server in the page's DOM. */
function rowOf(dom: string, rs: string): string {
  const row = dom.split(/(?=<tr[\s>])/).find((r) => r.includes(`data-rs="${rs}"`));
  assert.ok(row, `a row for ${rs}`);
  return row.slice(0, row.indexOf('</tr>') + 5);
}

describeLab(
  'vipcheck agent and its consumers: promtool, the /status schema, headless Chromium, the systemd unit',
  (s) => {
    let agent: AgentProcess | undefined;
    const config = () => `
listen: 127.0.0.1:${PORT}
defaults: {interval: 0.5, timeout: 0.4, rise: 1, fall: 1}
services:
  - name: web
    vip: ${s.lab.vip4}
    port: 80
    check: tcp
    real-servers: [${s.lab.hosts.good.ipv4}, ${s.lab.hosts.novip.ipv4}]
    file-check: ${join(s.lab.tmpDir, 'file-check')}/web-{rs}.state
  - name: web-canary
    vip: ${s.lab.vip4}
    port: 80
    check: tcp
    real-servers: [${s.lab.hosts.good.ipv4}]
`;

    before(async () => {
      agent = await AgentProcess.start(s.lab, 'director', config(), PORT);
      const {good, novip} = s.lab.hosts;
      // Good up and novip down, each probed a few times (for the sparklines), novip's last probe failed.
      await agent.until(
        async () => {
          const metrics = await agent!.metrics();
          const probes = (rs: string) =>
            metrics.filter((m) => m.name === 'vipcheck_probes_total' && m.labels['service'] === 'web' && m.labels['rs'] === rs).reduce((n, m) => n + m.value, 0);
          const up = await agent!.upOf('web');
          return up[good.ipv4] === 1 && up[novip.ipv4] === 0 && probes(good.ipv4) >= 4 && probes(novip.ipv4) >= 4;
        },
        15_000,
        'good up, novip down, each probed 4 times',
      );
    });

    after(async () => {
      await agent?.stop();
    });

    it('serves /metrics that `promtool check metrics` finds nothing wrong with', async function () {
      requireTool(this, 'promtool', 'prometheus');
      const text = await agent!.get('/metrics');
      assert.match(text, /^vipcheck_up\{service="web",/m);
      const r = spawnSync('promtool', ['check', 'metrics'], {input: text, encoding: 'utf8', timeout: 10_000});
      assert.equal(r.error, undefined);
      // promtool exits 3 for lint problems (prom-client's own nodejs_active_*_total gauges were some: the agent
      // drops them) and 1 for a text it cannot parse.
      assert.equal(r.status, 0, `promtool check metrics (exit ${r.status}):\n${r.stdout}${r.stderr}`);
      assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
    });

    it('serves /status as docs/schema/agent-status.schema.json describes it', async () => {
      const validate = new Ajv2020({allErrors: true, strict: true}).compile(JSON.parse(readFileSync(STATUS_SCHEMA, 'utf8')));
      const text = await agent!.get('/status');
      const status = JSON.parse(text) as {services: Array<{name: string; realServers: Array<Record<string, unknown> & {rs: string; lastProbe: {status: string; summary: string} | null}>}>};
      const errors = () => (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
      assert.ok(validate(status), `/status violates docs/schema/agent-status.schema.json: ${errors()}\n${text}`);
      assert.deepEqual(status.services.map((x) => x.name), ['web', 'web-canary']);
      const web = Object.fromEntries(status.services[0]!.realServers.map((r) => [r.rs, r]));
      const {good, novip} = s.lab.hosts;
      assert.equal(web[good.ipv4]!['state'], 'up');
      assert.equal(web[good.ipv4]!.lastProbe!.status, 'OK');
      assert.equal(web[novip.ipv4]!['state'], 'down');
      assert.equal(web[novip.ipv4]!.lastProbe!.status, 'CRITICAL');
      assert.equal(web[novip.ipv4]!['fileCheck'], join(s.lab.tmpDir, 'file-check', `web-${novip.ipv4}.state`));
      assert.equal(status.services[1]!.realServers[0]!['fileCheck'], undefined, 'no file-check, no key');
      // The schema is not vacuous: what the agent never writes is refused.
      const broken = structuredClone(status);
      broken.services[0]!.realServers[0]!['state'] = 'UP';
      assert.equal(validate(broken), false);
      const extra = structuredClone(status) as unknown as Record<string, unknown>;
      extra['targets'] = [];
      assert.equal(validate(extra), false);
    });

    it('renders / in headless Chromium as a person should read it: title, a section per service, coloured states', async function () {
      requireTool(this, 'chromium', 'chromium');
      const dir = join(s.lab.tmpDir, 'chromium');
      const url = `http://127.0.0.1:${PORT}/`;
      const dump = await chromium(s.lab, join(dir, 'dump'), ['--dump-dom', url]);
      assert.equal(dump.timedOut, false, `chromium --dump-dom overran ${CHROMIUM_TIMEOUT_MS} ms: ${dump.stderr.slice(-2000)}`);
      assert.equal(dump.code, 0, dump.stderr.slice(-2000));
      const dom = dump.stdout;
      const {good, novip} = s.lab.hosts;
      assert.match(dom, /<title>vipcheck agent: 1 down<\/title>/);
      assert.deepEqual([...dom.matchAll(/<section data-service="([^"]+)"/g)].map((m) => m[1]), ['web', 'web-canary']);
      assert.match(dom, /<h2>web <small>198\.51\.100\.100:80 tcp, 1 of 2 up<\/small><\/h2>/);
      const goodRow = rowOf(dom, good.ipv4);
      assert.match(goodRow, /^<tr class="up"/);
      assert.match(goodRow, /<span class="badge up">UP<\/span>/);
      assert.match(goodRow, /<td class="last" title="[^"]*answered[^"]*">OK: [^<]*answered/);
      const novipRow = rowOf(dom, novip.ipv4);
      assert.match(novipRow, /^<tr class="down"/);
      assert.match(novipRow, /<span class="badge down">DOWN<\/span>/);
      assert.match(novipRow, /<td class="last" title="no answer[^"]*">CRITICAL: [^<]*no answer/);
      for (const row of [goodRow, novipRow]) assert.match(row, /<svg class="spark"[^>]*><polyline [^>]*points="[\d., ]+"/, 'a sparkline');
      assert.match(novipRow, /<circle [^>]*fill="#c0392b"/, 'failed probes are red dots');
      assert.doesNotMatch(goodRow, /<circle/, 'no failed probe, no red dot');

      const png = join(dir, 'page.png');
      const shot = await chromium(s.lab, join(dir, 'shot'), [`--screenshot=${png}`, '--window-size=1200,800', url]);
      assert.equal(shot.timedOut, false, `chromium --screenshot overran ${CHROMIUM_TIMEOUT_MS} ms`);
      assert.equal(shot.code, 0, shot.stderr.slice(-2000));
      if (process.env.LAB_SCREENSHOT) copyFileSync(png, process.env.LAB_SCREENSHOT);
      const image = decodePng(readFileSync(png));
      assert.deepEqual([image.width, image.height], [1200, 800]);
      // The badges in their colours (about 55 x 19 px each: two UP, one DOWN), and text on white.
      const green = countColour(image, [0x27, 0xae, 0x60]);
      const red = countColour(image, [0xc0, 0x39, 0x2b]);
      assert.ok(green > 800, `${green} green pixels (UP badges)`);
      assert.ok(red > 400, `${red} red pixels (DOWN badge, novip's address, red dots)`);
      const white = countColour(image, [255, 255, 255], 2);
      assert.ok(white > 0.5 * 1200 * 800 && white < 0.99 * 1200 * 800, `${white} white pixels: a page with text on white`);
      const live = processes().filter((p) => p.state !== 'Z' && p.state !== 'X' && /chrom/.test(p.comm));
      assert.deepEqual(live.map((p) => `${p.pid} ${p.comm}`), [], 'no Chromium process survives');
    });

    it('runs as the systemd unit runs it: an unprivileged user with only CAP_NET_RAW and CAP_NET_ADMIN, no new privileges', async function () {
      requireTool(this, 'setpriv', 'util-linux');
      const dir = join(s.lab.tmpDir, 'unprivileged');
      mkdirSync(join(dir, 'run'), {recursive: true, mode: 0o755});
      mkdirSync(join(dir, 'home'), {mode: 0o755});
      const nobody = spawnSync('id', ['-u', 'nobody'], {encoding: 'utf8'});
      assert.equal(nobody.status, 0, 'a user nobody');
      const uid = Number(nobody.stdout.trim());
      chownSync(join(dir, 'run'), uid, -1);
      chownSync(join(dir, 'home'), uid, -1);
      const configPath = join(dir, 'agent.yaml');
      writeFileSync(
        configPath,
        `listen: 127.0.0.1:${UNPRIVILEGED_PORT}\ndefaults: {interval: 0.5, timeout: 0.4, rise: 1, fall: 1}\nservices:\n` +
          `  - name: web\n    vip: ${s.lab.vip4}\n    port: 80\n    check: tcp\n    real-servers: [${s.lab.hosts.good.ipv4}]\n` +
          `    file-check: ${dir}/run/{service}-{rs}.state\n`,
        {mode: 0o644},
      );
      const tables = async () => [...(await s.lab.execOk('director', ['nft', 'list', 'tables'])).stdout.matchAll(/table inet (vipcheck_agent_\S+)/g)].map((m) => m[1]!);
      // The other agent of this block has its own table in this namespace.
      const before = await tables();
      const caps = '-all,+net_raw,+net_admin';
      const child = s.lab.spawn('director', [
        'env', `HOME=${join(dir, 'home')}`,
        'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=${caps}`, '--no-new-privs',
        '--', process.execPath, VIPCHECK_BIN, 'agent', '--config', configPath,
      ]);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout!.resume();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      let code: number | null | undefined;
      let table: string | undefined;
      try {
        const file = join(dir, 'run', `web-${s.lab.hosts.good.ipv4}.state`);
        const deadline = Date.now() + 15_000;
        while (!(existsSync(file) && readFileSync(file, 'utf8') === '0\n')) {
          if (child.exitCode !== null) assert.fail(`the agent exited (${child.exitCode}):\n${stderr}`);
          if (Date.now() > deadline) assert.fail(`good not up in ${file} within 15 s:\n${stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        // Raw frames (the good server answered through the VIP path), and the nftables RST guard (CAP_NET_ADMIN).
        assert.match(stderr, /^vipcheck agent: started: 1 targets, .*kernel RST guard installed, /m);
        const ours = (await tables()).filter((t) => !before.includes(t));
        assert.equal(ours.length, 1, `its own nftables table: ${ours.join(', ')}`);
        table = ours[0];
        // `ip netns exec`, env and setpriv each exec the next: child.pid is the agent's node process.
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), 'the agent runs as nobody');
        assert.match(status, /^CapEff:\s+0000000000003000$/m, 'exactly CAP_NET_ADMIN (12) and CAP_NET_RAW (13) effective');
        assert.match(status, /^NoNewPrivs:\s+1$/m);
        child.kill('SIGTERM');
        code = await exited;
      } finally {
        if (code === undefined) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      assert.equal(code, 0, stderr);
      assert.ok(!(await tables()).includes(table!), `its table ${table} removed at stop, as nobody`);
      const lines = stderr.split('\n').filter((l) => l !== '');
      assert.deepEqual(lines.filter((l) => !l.startsWith('vipcheck agent: ')), [], 'nothing but the agent\'s own log lines (no permission warning)');
    });
  },
  {timeoutMs: 60_000},
);

/**
 * contrib/systemd/vipcheck-agent.service, checked by systemd itself: `systemd-analyze verify` loads the unit
 * offline (no systemd as PID 1 needed) and reports unknown keys, bad values and missing executables.
 */
describe('contrib/systemd/vipcheck-agent.service', () => {
  const unit = () => readFileSync(UNIT_FILE, 'utf8');
  /** The [Service] section's settings (a key set twice keeps its last value, as for these keys in systemd). */
  const service = () => {
    const text = unit();
    const section = text.slice(text.indexOf('[Service]'), text.indexOf('[Install]'));
    return Object.fromEntries(
      section
        .split('\n')
        .filter((l) => /^[A-Za-z]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  };

  it('runs the agent as its own user with two capabilities, a read-only system and FILE_CHECK files that survive restarts', () => {
    const expected: Record<string, string> = {
      Type: 'simple',
      User: 'vipcheck',
      Group: 'vipcheck',
      AmbientCapabilities: 'CAP_NET_RAW CAP_NET_ADMIN',
      CapabilityBoundingSet: 'CAP_NET_RAW CAP_NET_ADMIN',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      StateDirectory: 'vipcheck',
      RuntimeDirectory: 'vipcheck',
      RuntimeDirectoryPreserve: 'yes',
      ReadWritePaths: '/run/vipcheck',
      ExecStart: '/usr/bin/env vipcheck agent --config /etc/vipcheck/agent.yaml',
      ExecReload: '/bin/kill -HUP $MAINPID',
      KillSignal: 'SIGTERM',
      TimeoutStopSec: '5',
      Restart: 'on-failure',
    };
    const settings = service();
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((key) => [key, settings[key]])), expected);
    // The home is readable under ProtectHome=yes (a home under /home is hidden: oclif then warns at every start).
    const environment = unit().split('\n').filter((l) => l.startsWith('Environment=')).map((l) => l.slice('Environment='.length));
    assert.deepEqual(environment, ['HOME=/var/lib/vipcheck', 'NODE_OPTIONS=--max-semi-space-size=8']);
    for (const line of unit().split('\n')) assert.ok(line.length <= 120, `line too long: ${line}`);
  });

  it('passes systemd-analyze verify, as shipped and with ExecStart pointing at this checkout', function () {
    const analyze = '/usr/bin/systemd-analyze';
    if (!existsSync(analyze)) {
      const message = `${analyze} is not installed (Debian package systemd)`;
      if (process.env.CI === 'true') throw new Error(`${message} (CI=true, so this is a failure, not a skip)`);
      console.warn(`      skipped: ${message}`);
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-unit-'));
    try {
      const shipped = join(dir, 'vipcheck-agent.service');
      copyFileSync(UNIT_FILE, shipped);
      // This checkout's entry point instead of whatever `vipcheck` PATH has (systemd checks the executable exists).
      const local = join(dir, 'local', 'vipcheck-agent.service');
      mkdirSync(join(dir, 'local'));
      writeFileSync(local, unit().replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${join(REPO_ROOT, 'bin', 'run.cjs')} agent --config /etc/vipcheck/agent.yaml`));
      for (const file of [shipped, local]) {
        const r = spawnSync(analyze, ['verify', '--man=no', file], {encoding: 'utf8', timeout: 20_000, env: {...process.env, SYSTEMD_LOG_COLOR: '0'}});
        assert.equal(r.error, undefined);
        // Environmental, not the unit's: the user vipcheck does not exist on this machine (systemd 252 does not
        // look it up offline; newer ones may say so). Everything else systemd says is a problem of the unit.
        const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
        const problems = lines.filter((l) => !/\b(user|group) .*vipcheck.*(not found|does not exist|unknown)|failed to resolve (user|group) .*vipcheck/i.test(l));
        assert.deepEqual(problems, [], `systemd-analyze verify ${file}`);
        assert.equal(r.status, 0, lines.join('\n'));
      }
      // verify really reads the unit: a misspelt key and a missing executable are reported.
      const broken = join(dir, 'broken', 'vipcheck-agent.service');
      mkdirSync(join(dir, 'broken'));
      writeFileSync(broken, unit().replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes').replace('ExecStart=/usr/bin/env ', 'ExecStart=/nonexistent/'));
      const r = spawnSync(analyze, ['verify', '--man=no', broken], {encoding: 'utf8', timeout: 20_000});
      assert.match(r.stderr, /Unknown key 'NoNewPrivilege'/);
      assert.match(r.stderr, /\/nonexistent\/vipcheck is not executable/);
      assert.notEqual(r.status, 0);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});
