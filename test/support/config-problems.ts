/** The agent configuration's problems for `text`, failing the test when the configuration is accepted. */
import assert from 'node:assert/strict';
import {ConfigError, parseConfig} from '../../src/agent/config.js';
import type {CheckPlugin} from '../../src/plugin-api/plugin.js';

export function configProblems(text: string, plugins: ReadonlyMap<string, CheckPlugin>): string[] {
  try {
    parseConfig(text, plugins);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [...error.problems];
  }
  assert.fail('the configuration was accepted');
}
