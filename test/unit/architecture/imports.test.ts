import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { packagePath } from '../../../src/core/package-path';
import { tsFilesUnder } from '../../harness/ts-files';

/**
 * The import rules of docs/architecture.md, enforced: between its `imports:begin` / `imports:end`
 * markers, a table row per folder says what the folder may import. Every relative import of
 * src/**\/*.ts is checked against it (a folder may always import itself).
 */

const BEGIN = '<!-- imports:begin -->';
const END = '<!-- imports:end -->';

interface Rule {
  readonly folder: string;
  /** Folders it may import, or ['*']. */
  readonly mayImport: readonly string[];
}

function rules(): Rule[] {
  const doc = readFileSync(packagePath('docs/architecture.md'), 'utf8');
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  assert.ok(start >= 0 && end > start, 'docs/architecture.md has the imports table markers');
  const out: Rule[] = [];
  for (const line of doc.slice(start, end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !cells[1]!.startsWith('`src')) continue;
    const folder = cells[1]!.replace(/`/g, '');
    const last = cells[cells.length - 2]!;
    const mayImport = last === 'anything' ? ['*'] : last === '—' || last === '' ? [] : [...last.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    out.push({ folder, mayImport });
  }
  return out;
}

/** Relative module specifiers of a TypeScript file: import/export … from, import(), require(). */
export function importSpecifiers(text: string): string[] {
  const specs: string[] = [];
  const patterns = [/\b(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const p of patterns) for (const m of text.matchAll(p)) if (m[1]!.startsWith('.')) specs.push(m[1]!);
  return specs;
}

/** The table row a file or module belongs to: the longest folder that contains it. */
function owner(table: readonly Rule[], file: string): Rule | undefined {
  let best: Rule | undefined;
  for (const r of table) {
    if ((file === r.folder || file.startsWith(`${r.folder}/`) || `${file}.ts` === r.folder) && (!best || r.folder.length > best.folder.length)) best = r;
  }
  return best;
}

test('no import runs up the chain: every relative import of src/ is allowed by docs/architecture.md', () => {
  const root = packagePath('.');
  const table = rules();
  assert.ok(table.length >= 10, `the table lists the folders (found ${table.length})`);
  const upward: string[] = [];
  const undeclared = new Set<string>();
  let imports = 0;
  const files = tsFilesUnder(path.join(root, 'src')).map((f) => path.relative(root, f).split(path.sep).join('/'));
  for (const file of files) {
    const from = owner(table, file);
    if (!from) {
      undeclared.add(file);
      continue;
    }
    for (const spec of importSpecifiers(readFileSync(path.join(root, file), 'utf8'))) {
      imports++;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      const to = owner(table, target);
      if (!to) {
        undeclared.add(target);
        continue;
      }
      if (to === from || from.mayImport.includes('*')) continue;
      const allowed = from.mayImport.some((f) => to.folder === `src/${f}` || to.folder === f);
      if (!allowed) upward.push(`${file} imports ${target} (${from.folder} may not import ${to.folder})`);
    }
  }
  process.stdout.write(`import check: ${files.length} files, ${imports} relative imports, ${upward.length} upward\n`);
  assert.deepEqual([...undeclared], [], 'every file of src/ belongs to a folder of the table');
  assert.deepEqual(upward, []);
});

test('the parser sees every form of import', () => {
  const text = [
    "import type { A } from '../a';",
    "import b, { c } from './b';",
    "export { d } from '../../d';",
    "export * from './e';",
    "import './side-effect';",
    "const f = require('../f');",
    "const g = await import('./g');",
    "import fs from 'node:fs';",
    "import {\n  h,\n  i,\n} from '../multi';",
  ].join('\n');
  assert.deepEqual(importSpecifiers(text).sort(), ['../../d', '../a', '../f', '../multi', './b', './e', './g', './side-effect'].sort());
});
