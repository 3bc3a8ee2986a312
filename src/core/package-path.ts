import { existsSync } from 'node:fs';
import path from 'node:path';

let root: string | undefined;

/**
 * The package root: the nearest directory above this file that holds a package.json. The same from
 * src/core (ts-node, tests) and dist/src/core (the built module, the container image).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return (root = dir);
    if (path.dirname(dir) === dir) return (root = path.resolve(__dirname, '../..'));
  }
}

/** A file or directory of the package (package.json, schemas/events, docs/…), whether running from src/ or dist/. */
export function packagePath(relative: string): string {
  return path.join(packageRoot(), relative);
}
