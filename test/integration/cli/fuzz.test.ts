import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { analyseDeployment } from '../../../src/rules/index';
import { JsonSyntaxError, parseJsonText } from '../../../src/rules/json-text';
import { corpusDir } from '../../harness/paths';
import { hasStackTrace, runCli } from './run-cli';
import { seededRandom } from '../../../src/core/seeded-random';

type Json = unknown;
const REPLACEMENTS: Json[] = [null, true, 'true', 0, -1, 1e308, '', '${VAR}', [], {}, [null], { '': {} }, 'x'.repeat(1000), '{"HostConfig":', ['a=b', 7]];

/** Structural mutation: swap a value's type, delete a key, or graft a node elsewhere. */
function mutateValue(doc: Json, rand: () => number): Json {
  const nodes: Array<{ parent: Record<string, Json> | Json[]; key: string | number }> = [];
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach((c, i) => (nodes.push({ parent: v, key: i }), walk(c)));
    else if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) nodes.push({ parent: v as Record<string, Json>, key: k }), walk(c);
  };
  walk(doc);
  if (nodes.length === 0) return REPLACEMENTS[Math.floor(rand() * REPLACEMENTS.length)];
  for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
    const node = nodes[Math.floor(rand() * nodes.length)]!;
    const op = rand();
    const parent = node.parent as Record<string | number, Json>;
    if (op < 0.4) parent[node.key] = REPLACEMENTS[Math.floor(rand() * REPLACEMENTS.length)];
    else if (op < 0.7) {
      if (Array.isArray(node.parent)) node.parent.splice(node.key as number, 1);
      else delete parent[node.key];
    } else parent[node.key] = structuredClone(nodes[Math.floor(rand() * nodes.length)]!.parent); // a copy: JSON has no cycles
  }
  return doc;
}

/** Byte-level mutation: truncation, deletions, random characters. */
function mutateText(text: string, rand: () => number): string {
  const op = rand();
  if (op < 0.3) return text.slice(0, Math.floor(rand() * text.length));
  let out = text;
  for (let n = 1 + Math.floor(rand() * 5); n > 0; n--) {
    const at = Math.floor(rand() * out.length);
    if (rand() < 0.5) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rand() * 20));
    else out = out.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) + out.slice(at);
  }
  return out;
}

const files = readdirSync(corpusDir()).filter((f) => f.endsWith('.json')).sort();
const texts = files.map((f) => readFileSync(path.join(corpusDir(), f), 'utf8'));

describe('fuzz: mutated corpus files', () => {
  test('analyseDeployment never throws on structurally mutated manifests (2,000 cases)', () => {
    const rand = seededRandom(20241122);
    let findings = 0;
    for (let i = 0; i < 2000; i++) {
      const doc = mutateValue(JSON.parse(texts[i % texts.length]!), rand);
      const result = analyseDeployment(doc);
      assert.ok(Array.isArray(result));
      findings += result.length;
    }
    assert.ok(findings > 0);
  });

  test('hostile nesting: deep createOptions is M02, a deep document is cut, nothing overflows the stack', () => {
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const doc = { modulesContent: { $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', modules: { m: { type: 'docker', status: 'running', settings: { image: 'x:1', createOptions: deep(100000) } } } } } } };
    assert.ok(analyseDeployment(doc).some((f) => f.ruleId === 'M02' && /nested deeper/.test(f.message)));
    let node: Record<string, unknown> = {};
    const root = node;
    for (let i = 0; i < 50000; i++) node = (node.a = {}) as Record<string, unknown>;
    assert.ok(Array.isArray(analyseDeployment({ modulesContent: { $edgeAgent: { 'properties.desired': { deep: root } } } })));
  });

  test('the reader either parses or gives a JsonSyntaxError with a position (2,000 cases)', () => {
    const rand = seededRandom(7);
    let invalid = 0;
    for (let i = 0; i < 2000; i++) {
      const text = mutateText(texts[i % texts.length]!, rand);
      try {
        analyseDeployment(parseJsonText(text, { comments: true }).value);
      } catch (error) {
        assert.ok(error instanceof JsonSyntaxError, String(error));
        assert.ok(error.line >= 1 && error.column >= 1);
        invalid++;
      }
    }
    assert.ok(invalid > 100, 'the mutations do break files');
  });

  test('the CLI exits 0, 1 or 2 with no stack trace on mutated files', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-fuzz-'));
    try {
      const rand = seededRandom(99);
      const names: string[] = [];
      for (let i = 0; i < 120; i++) {
        const base = texts[i % texts.length]!;
        const text = i % 2 === 0 ? mutateText(base, rand) : JSON.stringify(mutateValue(JSON.parse(base), rand), (_k, v: unknown) => v, 1);
        const name = `m${i}.json`;
        writeFileSync(path.join(dir, name), text ?? 'null');
        names.push(name);
      }
      for (const format of ['text', 'json', 'sarif']) {
        const r = runCli(['scan', '--format', format, '--fail-on', 'high', ...names], dir);
        assert.ok([0, 1, 2].includes(r.status ?? -1), `exit ${r.status}`);
        assert.ok(!hasStackTrace(r.stderr) && !hasStackTrace(r.stdout), r.stderr.slice(0, 2000));
        if (format !== 'text') JSON.parse(r.stdout);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
