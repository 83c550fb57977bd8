// The plugin's own tests, run against an installed vipcheck (`npm install -g vipcheck-*.tgz ./` puts the two
// side by side, so `vipcheck/plugin-api` resolves); vipcheck's CI runs them on the packed tarball.
import assert from 'node:assert/strict';
import * as api from 'vipcheck/plugin-api';
import redisCheck, {firstReplyLine} from '../src/redis.js';

const redis = redisCheck(api);

describe('vipcheck-plugin-redis', () => {
  it('declares the shared flags as data', () => {
    const names = redis.flags.map((f) => f.name);
    for (const name of ['vip', 'rs', 'port', 'role', 'timeout', 'warning', 'critical', 'json', 'exit-codes']) assert.ok(names.includes(name), name);
  });

  it('turns flag values into typed options and refuses bad ones with a UsageError', () => {
    const options = redis.prepare({vip: '198.51.100.100', rs: '198.51.100.11', port: '6379', warning: '0.05'});
    assert.equal(options.target.port, 6379);
    assert.equal(options.thresholds.warning.text, '0.05');
    assert.throws(() => redis.prepare({vip: '198.51.100.100', rs: '198.51.100.11', port: '70000'}), (error) => api.errorKind(error) === 'usage');
    const result = api.errorResult(redis, (() => { try { redis.prepare({vip: 'x', rs: '198.51.100.11', port: '1'}); } catch (e) { return e; } })());
    assert.equal(result.state, api.State.Unknown);
    assert.equal(result.summary, "--vip: 'x' is not an IPv4 or IPv6 address");
  });

  it('reads the first RESP line only once it is complete', () => {
    assert.equal(firstReplyLine('+PON'), undefined);
    assert.equal(firstReplyLine('+PONG\r\n'), '+PONG');
    assert.equal(firstReplyLine('-NOAUTH Authentication required.\r\n'), '-NOAUTH Authentication required.');
  });
});
