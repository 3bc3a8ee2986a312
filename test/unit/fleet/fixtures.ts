import path from 'node:path';

/** Repository root, from dist/test/unit/fleet or test/unit/fleet. */
export const REPO_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..');

export function fixturePath(name: string): string {
  return path.join(REPO_ROOT, 'test', 'fixtures', 'fleet', name);
}
