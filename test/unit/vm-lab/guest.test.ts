// The host side of the VM lab that needs no guest: initramfs inputs, qemu's command line, scenario scripts,
// and the client's HTTP series (src/lab/vm, src/lab/http-client.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpSeriesArgv, parseHttpSeries } from '../../../src/lab/http-client.js';
import { parseShowDepends } from '../../../src/lab/vm/initramfs.js';
import { findGuestKernel, VmLabUnavailable } from '../../../src/lab/vm/kernel.js';
import { MAX_CPUS, qemuArgv, runGuest } from '../../../src/lab/vm/qemu.js';
import { REPO_ROOT, scenarioScript, SCENARIOS } from '../../../src/lab/vm/scenarios.js';
import { GUEST_INIT } from '../../../src/lab/vm/guest-init.js';

describe('VM lab: host side', () => {
  it('orders initramfs modules as modprobe --show-depends gives them, each once, built-ins left out', () => {
    const files = parseShowDepends([
      'insmod /m/virtio_ring.ko \ninsmod /m/virtio.ko \ninsmod /m/virtio_pci.ko \n',
      'insmod /m/virtio_ring.ko \ninsmod /m/virtio.ko \ninsmod /m/9pnet.ko \ninsmod /m/9pnet_virtio.ko \n',
      'builtin crc32c\ninsmod /m/9pnet.ko \ninsmod /m/9p.ko debug=0\n',
    ]);
    assert.deepEqual(files.map((f) => f.name), ['virtio_ring', 'virtio', 'virtio_pci', '9pnet', '9pnet_virtio', '9p']);
  });

  it('boots with TCG, the host root read-only and the share writable, commas in paths escaped', () => {
    const argv = qemuArgv({ vmlinuz: '/k/vmlinuz', initramfs: '/k/i.gz', share: '/tmp/a,b', memoryMiB: 2048, cpus: 2, interactive: false });
    const at = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];
    assert.equal(at('-accel'), 'tcg');
    assert.equal(at('-smp'), '2');
    assert.ok(argv.includes('-no-reboot'));
    assert.match(at('-append') ?? '', /panic=-1/);
    const virtfs = argv.filter((_, i) => argv[i - 1] === '-virtfs');
    assert.equal(virtfs.length, 2);
    assert.match(virtfs[0] ?? '', /^local,path=\/,mount_tag=hostroot,.*readonly=on/);
    assert.match(virtfs[1] ?? '', /^local,path=\/tmp\/a,,b,mount_tag=vmshare,/);
    assert.doesNotMatch(virtfs[1] ?? '', /readonly/);
  });

  it('refuses more vCPUs than one guest may take on this machine, a deadline too short, and odd module names', async () => {
    await assert.rejects(runGuest({ script: 'true', timeoutMs: 60_000, cpus: MAX_CPUS + 1 }), /cpus must be 1-2/);
    await assert.rejects(runGuest({ script: 'true', timeoutMs: 1_000 }), /timeoutMs must exceed/);
    await assert.rejects(runGuest({ script: 'true', timeoutMs: 60_000, modules: ['ip_vs; reboot'] }), /not a module name/);
  });

  it('says in one line what to run when the guest kernel is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-vm-cache-'));
    try {
      assert.throws(() => findGuestKernel(dir), (e: unknown) => e instanceof VmLabUnavailable && /install-vm-lab/.test(e.message) && !e.message.includes('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs each scenario as one exec of node on the built guest script, results into the share', () => {
    const script = scenarioScript(SCENARIOS['keepalived-misc-check'], '/usr/bin/node', '/srv/vipcheck');
    assert.match(script, /^exec \/usr\/bin\/node \/srv\/vipcheck\/dist\/lab\/vm\/guest\/keepalived-dr\.js --check misc --out "\$VIPCHECK_VM_SHARE\/result\.json"$/m);
    assert.throws(() => scenarioScript(SCENARIOS['keepalived-tcp-check'], '/usr/bin/node', '/srv/my checkout'), /without spaces/);
    for (const s of Object.values(SCENARIOS)) assert.ok(existsSync(join(REPO_ROOT, s.guestScript.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))), s.guestScript);
  });

  it('has an init script that busybox sh parses, which always ends in poweroff', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-vm-init-'));
    try {
      const path = join(dir, 'init');
      writeFileSync(path, GUEST_INIT);
      const shell = existsSync('/bin/busybox') ? ['/bin/busybox', 'sh'] : ['sh'];
      const r = spawnSync(shell[0]!, [...shell.slice(1), '-n', path], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(readFileSync(path, 'utf8').trimEnd(), /poweroff -f$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the client HTTP series in one Python process and reports timeouts and refusals', function () {
    this.timeout(15_000);
    // 127.0.0.1:9 (discard) is closed on a machine without inetd: refused at once. Never leaves this machine.
    const argv = httpSeriesArgv('http://127.0.0.1:9/', 2, 1_000);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    const attempts = parseHttpSeries(r.stdout);
    assert.equal(attempts.length, 2);
    for (const a of attempts) assert.deepEqual([a.ok, a.status, a.server, a.error], [false, null, null, 'refused']);
    assert.throws(() => httpSeriesArgv('http://x/', 0, 1000), /positive integer/);
  });
});
