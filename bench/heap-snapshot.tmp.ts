import {readdirSync} from 'node:fs';
import {createBenchLab, sleep, startAgent, targetsOver, rssBytes, mib} from './agent-lab.js';
const b = await createBenchLab(250, 40, true);
try {
  const targets = targetsOver(b.vips, 10000);
  const services = targets.map((t) => `  - {name: "tcp-${t.vip}-${t.port}", vip: ${t.vip}, port: ${t.port}, check: tcp, real-servers: [${b.rip}]}`);
  const yaml = ['listen: 127.0.0.1:9470', 'max-concurrent: 1024', 'source-ports: 8192', `defaults: {interval: ${process.env.IV ?? 10}, timeout: 1, rise: 1, fall: 3, initial-state: up}`, 'services:', ...services, ''].join('\n');
  const agent = await startAgent(b, yaml, ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir=/tmp/hs']);
  await sleep(Number(process.env.WAIT ?? 15) * 1000);
  console.log('rss', mib(rssBytes(agent.pid)));
  process.kill(agent.pid, 'SIGUSR2');
  await sleep(15000);
  console.log(readdirSync('/tmp/hs'));
  await agent.stop();
} finally {
  await b.destroy();
}
