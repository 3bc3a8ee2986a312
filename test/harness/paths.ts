import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root, from either test/ (ts) or dist/test/ (compiled). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

/** ../shared beside the checkout (tests read Microsoft's schemas and the corpus from there). */
export function sharedDir(): string {
  return path.resolve(repoRoot(), '..', 'shared');
}

export function referenceSchemaDir(): string {
  return path.join(sharedDir(), 'reference', 'azure-iot-security');
}

export function corpusDir(): string {
  return path.join(sharedDir(), 'corpus', 'manifests');
}
