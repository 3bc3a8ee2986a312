import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonSyntaxError, parseJsonText, type ParsedJson, type TextPosition } from '../../../src/rules/json-text';
import { formatPath, parsePath, type Segment } from '../../../src/rules/json-path';

function locate(parsed: ParsedJson, path: Segment[]): TextPosition | undefined {
  let out: TextPosition | undefined;
  parsed.locateEach([path], (p) => p, (_p, line, column) => (out = { line, column }));
  return out;
}

describe('position-tracking JSON reader', () => {
  test('parses like JSON.parse and locates keys by path', () => {
    const text = '{\n  "a": {\n    "b.c": [1, {"d": true}]\n  }\n}\n';
    const parsed = parseJsonText(text);
    assert.deepEqual(parsed.value, JSON.parse(text));
    assert.deepEqual(locate(parsed, ['a', 'b.c', 1, 'd']), { line: 3, column: 17 });
    assert.deepEqual(locate(parsed, ['a']), { line: 2, column: 3 });
    // A path into a string value (createOptions) resolves to the longest prefix in the text.
    assert.deepEqual(locate(parsed, ['a', 'b.c', 1, 'd', 'HostConfig', 'Privileged']), { line: 3, column: 17 });
    assert.deepEqual(locate(parsed, []), { line: 1, column: 1 });
  });

  test('many paths located in one pass: duplicate keys resolve where the parsed value comes from, comments skipped', () => {
    const text = [
      '/* lead */ {',
      '  "m": {"x": {"deep": 1}, "y": "[{\\"}"},',
      '  "m": {"x": "scalar now", // a "quoted" ] comment',
      '        "z": [ 10 , {"k": [true, null, -1.5e3]} ]},',
      '  "n\\u0041": 2',
      '}',
    ].join('\n');
    const parsed = parseJsonText(text, { comments: true });
    const paths: Array<Array<string | number> | undefined> = [['m', 'x', 'deep'], ['m', 'y'], ['m', 'z', 1, 'k', 2], ['m', 'z', '1'], ['nA'], ['m', 'z', 5], undefined, ['m', 'x']];
    const found: Array<[number, number, number]> = [];
    parsed.locateEach(paths, (p) => p, (p, line, column) => found.push([paths.indexOf(p), line, column]));
    assert.deepEqual(found, [
      // m.x is a string in the last "m": deep is not in the value, so the m.x key of the last "m".
      [0, 3, 9],
      // m.y only in the first "m": not in the value; the last "m" key.
      [1, 3, 3],
      [2, 4, 40],
      // An object key '1' is not array item 1.
      [3, 4, 9],
      [4, 5, 3],
      [5, 4, 9],
      [7, 3, 9],
    ]);
  });

  test('a step with many children (a list, then a map) and array items against object keys', () => {
    const entries = Array.from({ length: 20 }, (_, i) => `"k${i}": [${i}, {"x": ${i}}]`);
    const text = `{\n${entries.join(',\n')},\n"0": "object key"\n}`;
    const parsed = parseJsonText(text);
    const paths: Segment[][] = [...Array.from({ length: 20 }, (_, i) => [`k${i}`, 1, 'x']), ['0'], [0], ['k3', '1']];
    const found: string[] = [];
    parsed.locateEach(paths, (p) => p, (p, line, column) => found.push(`${p.join('/')} ${line}:${column}`));
    const expected = Array.from({ length: 20 }, (_, i) => `k${i}/1/x ${i + 2}:${`"k${i}": [${i}, {`.length + 1}`);
    assert.deepEqual(found, [...expected, '0 22:1', '0 1:1', 'k3/1 5:1']);
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
