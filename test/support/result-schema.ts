/**
 * The --json output contract (docs/schema/result.schema.json), checked with ajv: every lab test that reads
 * --json output validates it, so the published schema and the program cannot drift apart.
 */
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const require = createRequire(import.meta.url);
// ajv's draft 2020-12 build; a CommonJS module whose default export is the class.
const Ajv2020 = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js').default;

const schemaPath = fileURLToPath(new URL('../../docs/schema/result.schema.json', import.meta.url));
const validate = new Ajv2020({allErrors: true, strict: true, allowUnionTypes: true}).compile(JSON.parse(readFileSync(schemaPath, 'utf8')));

/** Fails with every schema violation and the document when `json` is not a valid vipcheck --json result. */
export function assertResultSchema(json: unknown): void {
  if (validate(json)) return;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
  assert.fail(`--json output violates docs/schema/result.schema.json: ${errors}\n${JSON.stringify(json, null, 2)}`);
}
