import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../harness/paths';

/**
 * Licence check over the production dependencies (what the image ships): every package's licence,
 * from the lock file (or its installed package.json for the old `licenses` form), must be permissive.
 * An SPDX `OR` passes when one alternative is allowed, `AND` when all are.
 */
export const ALLOWED_LICENCES = new Set(['MIT', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', 'Apache-2.0', '0BSD', 'BlueOak-1.0.0', 'Unlicense', 'CC0-1.0', 'PSF-2.0', 'Python-2.0']);

interface ProductionPackage {
  name: string;
  version: string;
  license?: string;
  path: string;
}
// scripts/sbom.js is plain CommonJS (it runs in the image without a build): its shape is declared above.
const sbomModule = require(path.join(repoRoot(), 'scripts', 'sbom.js')) as { productionPackages(lock: unknown, root?: string): ProductionPackage[] };

export function licenceAllowed(expression: string): boolean {
  const e = expression.trim().replace(/^\((.*)\)$/, '$1');
  if (/\sOR\s/.test(e)) return e.split(/\s+OR\s+/).some(licenceAllowed);
  if (/\sAND\s/.test(e)) return e.split(/\s+AND\s+/).every(licenceAllowed);
  return ALLOWED_LICENCES.has(e);
}

test('licence expressions: OR needs one allowed alternative, AND needs all; unknown and copyleft fail', () => {
  assert.equal(licenceAllowed('MIT'), true);
  assert.equal(licenceAllowed('(MIT OR GPL-2.0)'), true);
  assert.equal(licenceAllowed('MIT AND GPL-3.0-only'), false);
  assert.equal(licenceAllowed('GPL-3.0-only'), false);
  assert.equal(licenceAllowed('AGPL-3.0'), false);
  assert.equal(licenceAllowed('UNLICENSED'), false);
  assert.equal(licenceAllowed(''), false);
});

test('every production dependency has a known, allowed licence', () => {
  const root = repoRoot();
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as unknown;
  const packages = sbomModule.productionPackages(lock, root);
  assert.ok(packages.length > 50, `production packages found (${packages.length})`);
  const bad = packages.filter((p) => !p.license || !licenceAllowed(p.license)).map((p) => `${p.path}@${p.version}: ${p.license ?? 'no licence'}`);
  assert.deepEqual(bad, []);
});
