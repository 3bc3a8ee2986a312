import path from 'node:path';
import { packageRoot } from '../../../src/core/package-path';

/** Repository root, from dist/test/unit/fleet or test/unit/fleet. */
export const REPO_ROOT = packageRoot();

export function fixturePath(name: string): string {
  return path.join(REPO_ROOT, 'test', 'fixtures', 'fleet', name);
}
