import {BULK_PORT, FIRST_PORT, createBenchLab, sleep, startAgent} from './agent-lab.js';
const b = await createBenchLab(1, 1, true);
try {
  const dump = b.lab.spawn('good', ['tcpdump', '-i', 'eth0', '-n', '-l', '-tt', 'tcp']);
  let out = '';
  dump.stdout!.on('data', (c) => (out += c));
  await sleep(1000);
  const yaml = ['listen: 127.0.0.1:9470', `defaults: {interval: 1, timeout: 0.5, rise: 1, fall: 3, initial-state: up}`, 'services:',
    `  - {name: s, vip: ${b.vips[0]}, port: ${FIRST_PORT}, check: http-status, path: /, real-servers: [${b.rip}]}`, ''].join('\n');
  const agent = await startAgent(b, yaml, []);
  await sleep(3500);
  await agent.stop();
  await sleep(500);
  dump.kill('SIGINT');
  await sleep(500);
  console.log(out.split('\n').filter((l) => l.includes(`.${FIRST_PORT}`)).slice(-20).join('\n'));
} finally {
  await b.destroy();
}
