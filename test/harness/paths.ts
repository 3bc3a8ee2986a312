import path from 'node:path';
import { packageRoot } from '../../src/core/package-path';

/** The repository root, from either test/ (ts) or dist/test/ (compiled). */
export const repoRoot = packageRoot;

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
