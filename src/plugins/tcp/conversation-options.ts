/**
 * Flags of `tcp --send/--expect` (check_tcp's names) and their conversion into a ConversationSpec.
 */
import {UsageError} from '../../core/errors.js';
import type {FlagSpec, FlagValues} from '../../plugin-api/flag-spec.js';
import {stringFlag} from '../../plugin-api/convert.js';
import {unescapeText, type ConversationSpec, type MismatchState} from './conversation.js';

export const CONVERSATION_FLAGS: readonly FlagSpec[] = [
  {name: 'send', char: 's', type: 'string', helpValue: 'STRING', description: 'Send this after connecting (escapes \\r \\n \\t \\\\).'},
  {name: 'expect', char: 'e', type: 'string', multiple: true, helpValue: 'STRING', description: 'Expect this in the response (repeatable; any one suffices unless --expect-all).'},
  {name: 'expect-all', char: 'A', type: 'boolean', description: 'Every --expect string must appear.'},
  {name: 'expect-regex', type: 'string', helpValue: 'REGEX', description: 'The response must match this regular expression.'},
  {name: 'quit', char: 'q', type: 'string', helpValue: 'STRING', description: 'Send this before closing (e.g. QUIT\\r\\n).'},
  {name: 'max-bytes', char: 'm', type: 'string', default: '65536', helpValue: 'BYTES', description: 'Read at most this many bytes of the response.'},
  {name: 'mismatch', char: 'M', type: 'string', options: ['ok', 'warning', 'critical'], default: 'warning', description: 'State when the response does not match.'},
];

export function conversationOptions(values: FlagValues): {conversation?: ConversationSpec} {
  const send = stringFlag(values, 'send');
  const quit = stringFlag(values, 'quit');
  const expectRaw = values['expect'];
  const expect = (Array.isArray(expectRaw) ? expectRaw : []).map((e) => unescapeText(e, '--expect'));
  const regexText = stringFlag(values, 'expect-regex');
  if (send === undefined && quit === undefined && expect.length === 0 && regexText === undefined) {
    if (values['expect-all'] === true) throw new UsageError('--expect-all needs --expect');
    return {};
  }
  if (values['clean-close'] === true) throw new UsageError('--clean-close is for the handshake probe (a conversation closes with FIN anyway)');
  let expectRegex: RegExp | undefined;
  if (regexText !== undefined) {
    try {
      expectRegex = new RegExp(regexText);
    } catch (error) {
      throw new UsageError(`--expect-regex: invalid regular expression: ${(error as Error).message}`);
    }
  }
  const maxText = stringFlag(values, 'max-bytes') ?? '65536';
  if (!/^\d+$/.test(maxText) || Number(maxText) < 1) throw new UsageError(`--max-bytes: '${maxText}' is not a positive whole number`);
  return {
    conversation: {
      ...(send === undefined ? {} : {send: Buffer.from(unescapeText(send, '--send'), 'latin1')}),
      expect,
      expectAll: values['expect-all'] === true,
      ...(expectRegex ? {expectRegex} : {}),
      ...(quit === undefined ? {} : {quit: Buffer.from(unescapeText(quit, '--quit'), 'latin1')}),
      maxBytes: Number(maxText),
      mismatch: (stringFlag(values, 'mismatch') ?? 'warning') as MismatchState,
    },
  };
}
