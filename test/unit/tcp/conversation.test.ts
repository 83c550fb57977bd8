import assert from 'node:assert/strict';
import {parseFlags} from '../../../src/cli/parse-flags.js';
import {UsageError} from '../../../src/core/errors.js';
import {matchResponse, unescapeText, type ConversationSpec} from '../../../src/plugins/tcp/conversation.js';
import {tcpPlugin} from '../../../src/plugins/tcp/index.js';

const target = ['--vip', '198.51.100.100', '--rs', '198.51.100.11', '--port', '22'];
const spec = (...extra: string[]): ConversationSpec => {
  const options = tcpPlugin.prepare(parseFlags(tcpPlugin.flags, [...target, ...extra]));
  assert.ok(options.conversation, 'conversation mode');
  return options.conversation;
};

describe('tcp --send/--expect', () => {
  it('decodes check_tcp escapes and rejects unknown ones', () => {
    assert.equal(unescapeText('PING\\r\\n\\t\\\\', '--send'), 'PING\r\n\t\\');
    assert.throws(() => unescapeText('\\x41', '--send'), UsageError);
  });

  it('matches any expected string by default, all with --expect-all, and a regex too', () => {
    const any = spec('-e', 'SSH-2.0', '-e', 'SMTP');
    assert.equal(matchResponse(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), any), true);
    assert.equal(matchResponse(Buffer.from('SSH'), any), undefined, 'partial: wait for more bytes');
    const all = spec('-e', 'SSH-2.0', '-e', 'Debian', '-A');
    assert.equal(matchResponse(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), all), undefined);
    assert.equal(matchResponse(Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'), all), true);
    const regex = spec('--expect-regex', '^220 .*ESMTP');
    assert.equal(matchResponse(Buffer.from('220 mx.example.test ESMTP Postfix\r\n'), regex), true);
  });

  it('gives up matching once --max-bytes arrived without a match', () => {
    const small = spec('-e', 'never', '-m', '8');
    assert.equal(matchResponse(Buffer.from('12345678'), small), false);
  });

  it('with only --send there is nothing to wait for', () => {
    assert.equal(matchResponse(Buffer.alloc(0), spec('--send', 'x')), true);
  });

  it('keeps the handshake probe without conversation flags and rejects mixing in --clean-close', () => {
    assert.equal(tcpPlugin.prepare(parseFlags(tcpPlugin.flags, target)).conversation, undefined);
    assert.throws(() => spec('-e', 'x', '--clean-close'), /--clean-close/);
    assert.throws(() => tcpPlugin.prepare(parseFlags(tcpPlugin.flags, [...target, '-A'])), /--expect-all needs --expect/);
    assert.throws(() => spec('--expect-regex', '('), /--expect-regex/);
    assert.equal(spec('-e', 'x').mismatch, 'warning');
    assert.equal(spec('-e', 'x', '-M', 'critical').mismatch, 'critical');
  });
});
