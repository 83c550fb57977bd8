/**
 * contrib/icinga2/vipcheck.conf is generated from the checks' flag declarations, ITL style: the committed file
 * is what the build generates, and every flag of every check is an argument named like it.
 */
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {checkPlugins} from '../../../src/cli/registry.js';
import {icinga2Commands, icingaVar} from '../../../src/cli/icinga2-commands.js';

describe('Icinga 2 CheckCommands (contrib/icinga2/vipcheck.conf)', () => {
  let plugins: Awaited<ReturnType<(typeof checkPlugins)[string]>>[] = [];
  before(async () => {
    plugins = await Promise.all(Object.values(checkPlugins).map((load) => load()));
  });

  it('is the file the build generates (not edited by hand)', () => {
    const generated = icinga2Commands(plugins.map((p) => ({id: p.id, flags: p.flags})));
    assert.equal(readFileSync(new URL('../../../contrib/icinga2/vipcheck.conf', import.meta.url), 'utf8'), generated, 'run npm run build');
  });

  it('has one argument per flag: value for strings, set_if for booleans, repeat_key for repeatable flags', () => {
    const text = icinga2Commands(plugins.map((p) => ({id: p.id, flags: p.flags})));
    for (const plugin of plugins) {
      const start = text.indexOf(`object CheckCommand "vipcheck_${plugin.id.replaceAll('-', '_')}" {`);
      assert.ok(start >= 0, plugin.id);
      const body = text.slice(start, text.indexOf('\n}\n', start));
      for (const flag of plugin.flags) {
        if (flag.name === 'json' || flag.name === 'exit-codes') {
          assert.ok(!body.includes(`"--${flag.name}"`), `${plugin.id}: --${flag.name} is left out`);
          continue;
        }
        const arg = new RegExp(`"--${flag.name}" = \\{\\n([^}]*)\\}`).exec(body)?.[1];
        assert.ok(arg, `${plugin.id}: --${flag.name}`);
        if (flag.type === 'string') assert.match(arg, new RegExp(`value = "\\$${icingaVar(flag.name)}\\$"`));
        else assert.match(arg, new RegExp(`set_if = "\\$${icingaVar(flag.name)}\\$"`));
        assert.equal(arg.includes('repeat_key = true'), flag.multiple === true, `${plugin.id}: --${flag.name} repeat_key`);
        assert.equal(arg.includes('required = true'), flag.required === true, `${plugin.id}: --${flag.name} required`);
      }
    }
    assert.match(text, /object CheckCommand "vipcheck_tcp" \{\n  command = \[ "\/usr\/bin\/sudo", "\/usr\/local\/bin\/vipcheck", "tcp" \]/);
  });
});
