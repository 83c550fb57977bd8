// @ts-check
/**
 * `vipcheck redis`: does the real server answer a Redis PING for VIP:port, delivered through the VIP path?
 *
 * A vipcheck check plugin: the default export receives vipcheck's own plugin API (so this module imports
 * nothing of vipcheck at run time and shares the running vipcheck's classes) and returns the check.
 * openConnector gives a net.Socket-like Duplex through the VIP path (vipcheck's userspace TCP to VIP:port at
 * the real server's MAC), or a kernel socket to RIP:port on a backup director; the rest is plain Redis.
 */

/** @typedef {import('vipcheck/plugin-api').PluginApi} PluginApi */
/** @typedef {import('vipcheck/plugin-api').RunContext} RunContext */
/** @typedef {{target: import('vipcheck/plugin-api').TargetOptions, role: import('vipcheck/plugin-api').RoleOptions, thresholds: import('vipcheck/plugin-api').Thresholds}} RedisOptions */

/** A PING reply is a few bytes; anything much longer is not Redis. */
const MAX_REPLY_BYTES = 4096;

/**
 * The first line of a RESP reply, or undefined while it is incomplete.
 * @param {string} text
 */
export function firstReplyLine(text) {
  const end = text.indexOf('\r\n');
  return end < 0 ? undefined : text.slice(0, end);
}

/**
 * @param {PluginApi} api
 * @returns {import('vipcheck/plugin-api').CheckPlugin<RedisOptions>}
 */
export default function redisCheck(api) {
  const {TARGET_FLAGS, ROLE_FLAGS, OUTPUT_FLAGS, State, worst, evaluateThresholds, secondsPerfDatum, formatSeconds} = api;
  return {
    id: 'redis',
    title: 'REDIS',
    summary: 'Check that a real server answers a Redis PING for VIP:port through the LVS-DR path.',
    description:
      'Opens a TCP connection to VIP:port addressed to the real server MAC (vipcheck\'s VIP path), sends PING ' +
      'and expects +PONG. An error reply (-NOAUTH, -LOADING, ...) or any other answer is CRITICAL.',
    examples: ['<%= config.bin %> redis --vip 198.51.100.100 --rs 198.51.100.11 --port 6379 -w 0.05 -c 0.2'],
    // Declared as data: the fast parser, the help and the agent's configuration all read these.
    flags: [...TARGET_FLAGS, ...ROLE_FLAGS, ...OUTPUT_FLAGS],
    prepare(values) {
      return {target: api.targetOptions(values), role: api.roleOptions(values), thresholds: api.thresholdOptions(values)};
    },
    async run(options, context) {
      const {vip, port} = options.target;
      const connector = await api.openConnector(options.target, options.role, context, {maxReceiveBytes: MAX_REPLY_BYTES});
      const started = performance.now();
      const reply = await ping(connector.connect(), context);
      const seconds = (performance.now() - started) / 1000;
      const base = {check: 'REDIS', path: connector.path, details: connector.details, data: {...connector.data, reply: reply.line ?? null}};
      const service = vip.family === 6 ? `[${vip}]:${port}` : `${vip}:${port}`;
      if (reply.kind === 'timeout') {
        return {
          ...base,
          state: State.Critical,
          summary: `no PONG from ${service} ${connector.via} within ${formatSeconds(context.timeoutMs)}`,
          perfdata: [secondsPerfDatum('time', undefined, context.timeoutMs, options.thresholds)],
        };
      }
      if (reply.kind === 'error') {
        return {...base, state: State.Critical, summary: `${service} ${connector.via}: ${reply.message}`, perfdata: [secondsPerfDatum('time', undefined, context.timeoutMs, options.thresholds)]};
      }
      const perfdata = [secondsPerfDatum('time', seconds, context.timeoutMs, options.thresholds)];
      if (reply.line !== '+PONG') {
        // Quoted as JSON so control characters or a | from a hostile server cannot break the output format.
        return {...base, state: State.Critical, summary: `${service} ${connector.via} answered ${JSON.stringify(reply.line).replace(/[|;]/g, ',')} to PING`, perfdata};
      }
      const state = worst(State.Ok, evaluateThresholds(seconds, options.thresholds));
      return {...base, state, summary: `${service} answered PONG ${connector.via} in ${(seconds * 1000).toFixed(2)} ms`, perfdata};
    },
  };
}

/**
 * Sends PING and reads the first reply line, ending by the check's deadline on either path (a kernel socket
 * has no deadline of its own).
 * @param {import('node:stream').Duplex} socket
 * @param {RunContext} context
 * @returns {Promise<{kind: 'reply', line: string} | {kind: 'timeout', line?: undefined} | {kind: 'error', message: string, line?: undefined}>}
 */
function ping(socket, context) {
  context.onCleanup(() => socket.destroy());
  return new Promise((resolve) => {
    let received = '';
    const timer = setTimeout(() => finish({kind: 'timeout'}), Math.max(0, context.deadline - performance.now()));
    /** @param {any} outcome */
    const finish = (outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const line = firstReplyLine(received);
      if (line !== undefined) finish({kind: 'reply', line});
      else if (received.length > MAX_REPLY_BYTES) finish({kind: 'reply', line: received.slice(0, 40)});
    });
    socket.on('end', () => finish({kind: 'error', message: 'closed the connection without a reply to PING'}));
    socket.on('error', (/** @type {NodeJS.ErrnoException} */ error) =>
      finish(error.code === 'ETIMEDOUT' ? {kind: 'timeout'} : {kind: 'error', message: `${error.code === 'ECONNREFUSED' ? 'refused the connection' : error.message.split('\n')[0]}`}),
    );
  });
}
