import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ALERTS_DOC, renderAlertCatalogue } from '../../../src/detections/catalogue-doc';
import { compileRules, shippedRuleSources } from '../../../src/detections/loader';
import { repoRoot } from '../../harness/paths';

test('docs/alerts.md is the catalogue generated from the shipped rules (regenerate: npm run docs)', () => {
  const doc = readFileSync(path.join(repoRoot(), ALERTS_DOC), 'utf8');
  assert.equal(doc, renderAlertCatalogue(), `${ALERTS_DOC} is stale: run npm run docs`);
  for (const rule of compileRules(shippedRuleSources()).rules) assert.ok(doc.includes(`| ${rule.id} |`), `${rule.id} listed`);
});

test("every Defender agent alert of shared/docs/detections.md is named in docs/detections.md's coverage table", () => {
  const coverage = readFileSync(path.join(repoRoot(), 'docs/detections.md'), 'utf8');
  for (const name of ['Reverse shells', 'Successful Bruteforce attempt', 'Crypto coin miner image', 'Privileged container detected', 'Bash history cleared', 'Exposed Docker daemon by TCP socket']) {
    assert.ok(coverage.includes(name), `${name} in the coverage table`);
  }
});
