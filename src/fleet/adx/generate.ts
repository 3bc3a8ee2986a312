import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SchemaSet } from './columns';
import { fleetTables, tablesScript } from './tables';

/** The repository root, from src/fleet/adx or dist/src/fleet/adx. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('repository root not found');
    dir = parent;
  }
  return dir;
}

/** Microsoft's message schemas: ../shared beside the checkout, or EDGEGUARD_REFERENCE_SCHEMAS. */
export function referenceMessageSchemaDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.EDGEGUARD_REFERENCE_SCHEMAS ?? path.resolve(repoRoot(), '..', 'shared', 'reference', 'azure-iot-security', 'security_message', 'schemas');
}

export function defaultSchemaSet(): SchemaSet {
  return new SchemaSet(path.join(repoRoot(), 'schemas', 'events'), referenceMessageSchemaDir());
}

export const TABLES_SCRIPT = path.join('fleet', 'adx', 'tables.kql');

/** `npm run fleet:generate`: rewrites fleet/adx/tables.kql from the schemas. */
export function generate(): string {
  const file = path.join(repoRoot(), TABLES_SCRIPT);
  mkdirSync(path.dirname(file), { recursive: true });
  const text = tablesScript(fleetTables(defaultSchemaSet()));
  writeFileSync(file, text);
  return file;
}

if (require.main === module) {
  process.stdout.write(`wrote ${generate()}\n`);
}
