import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonSyntaxError, parseJsonText } from '../../../src/rules/json-text';
import { formatPath, parsePath } from '../../../src/rules/json-path';

describe('position-tracking JSON reader', () => {
  test('parses like JSON.parse and locates keys by path', () => {
    const text = '{\n  "a": {\n    "b.c": [1, {"d": true}]\n  }\n}\n';
    const parsed = parseJsonText(text, { positions: true });
    assert.deepEqual(parsed.value, JSON.parse(text));
    assert.deepEqual(parsed.locate(['a', 'b.c', 1, 'd']), { line: 3, column: 17 });
    assert.deepEqual(parsed.locate(['a']), { line: 2, column: 3 });
    // A path into a string value (createOptions) resolves to the longest prefix in the text.
    assert.deepEqual(parsed.locate(['a', 'b.c', 1, 'd', 'HostConfig', 'Privileged']), { line: 3, column: 17 });
  });

  test('invalid JSON: line and column, and the input is never quoted', () => {
    const text = '{\n  "password": "s3cr3tValue",\n  "x": s3cr3tValue\n}';
    assert.throws(
      () => parseJsonText(text),
      (e: unknown) => e instanceof JsonSyntaxError && e.line === 3 && e.column === 8 && !e.message.includes('s3cr3t'),
    );
    assert.throws(() => parseJsonText('{"a": 1,}'), (e: unknown) => e instanceof JsonSyntaxError && e.line === 1 && e.column === 9);
    assert.throws(() => parseJsonText('{"a": "unterminated'), /unterminated string/);
    assert.throws(() => parseJsonText('[1] [2]'), /after the end of the document/);
    assert.throws(() => parseJsonText('['.repeat(100000)), /nesting deeper/);
  });

  test('comments are accepted only when asked, BOM is skipped', () => {
    const text = '\ufeff{ // comment\n "a": /* x */ 1 }';
    assert.deepEqual(parseJsonText(text, { comments: true }).value, { a: 1 });
    assert.throws(() => parseJsonText(text), JsonSyntaxError);
  });

  test('__proto__ keys stay plain data', () => {
    const v = parseJsonText('{"__proto__": {"polluted": 1}}').value as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(v), ['__proto__']);
  });

  test('JSON paths round-trip', () => {
    const segments = ['modulesContent', '$edgeAgent', 'properties.desired', 'modules', 'my-mod', 'x', 0, "it's"];
    const text = formatPath(segments);
    assert.equal(text, "$.modulesContent.$edgeAgent['properties.desired'].modules.my-mod.x[0]['it\\'s']");
    assert.deepEqual(parsePath(text), segments);
  });
});
