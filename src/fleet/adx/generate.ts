import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packagePath, packageRoot } from '../../core/package-path';
import { SchemaSet } from './columns';
import { armTemplate } from '../deploy/arm-template';
import { sentinelFunctionsTemplate } from '../deploy/sentinel-functions';
import { fleetWorkbook } from '../deploy/workbook';
import { fleetTables, tablesScript } from './tables';

/** Microsoft's message schemas: ../shared beside the checkout, or EDGEGUARD_REFERENCE_SCHEMAS. */
export function referenceMessageSchemaDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.EDGEGUARD_REFERENCE_SCHEMAS ?? path.resolve(packageRoot(), '..', 'shared', 'reference', 'azure-iot-security', 'security_message', 'schemas');
  if (!existsSync(path.join(dir, 'message_v1_0.json'))) {
    throw new Error(`Microsoft's security message schemas (message_v1_0.json) are not in ${dir}: put shared/ beside the checkout or set EDGEGUARD_REFERENCE_SCHEMAS`);
  }
  return dir;
}

export function defaultSchemaSet(): SchemaSet {
  return new SchemaSet(packagePath('schemas/events'), referenceMessageSchemaDir());
}

export const TABLES_SCRIPT = path.join('fleet', 'adx', 'tables.kql');
export const FUNCTIONS_SCRIPT = path.join('fleet', 'adx', 'functions.kql');
export const ARM_TEMPLATE = path.join('fleet', 'deploy', 'azuredeploy.json');
export const SENTINEL_TEMPLATE = path.join('fleet', 'deploy', 'sentinel-functions.json');

export const WORKBOOK = path.join('fleet', 'sentinel', 'EdgeGuardFleet.workbook');

export function workbookText(): string {
  return JSON.stringify(fleetWorkbook(), null, 2) + '\n';
}

export function sentinelTemplateText(): string {
  return JSON.stringify(sentinelFunctionsTemplate(), null, 2) + '\n';
}

/** The ARM template text for the given scripts. */
export function armTemplateText(tables: string, functions: string): string {
  return JSON.stringify(armTemplate({ tables, functions }), null, 2) + '\n';
}

/** `npm run fleet:generate`: rewrites fleet/adx/tables.kql from the schemas and the ARM template that inlines the scripts. */
export function generate(): string[] {
  const root = packageRoot();
  const tablesFile = path.join(root, TABLES_SCRIPT);
  mkdirSync(path.dirname(tablesFile), { recursive: true });
  const tables = tablesScript(fleetTables(defaultSchemaSet()));
  writeFileSync(tablesFile, tables);
  const functions = readFileSync(path.join(root, FUNCTIONS_SCRIPT), 'utf8');
  const armFile = path.join(root, ARM_TEMPLATE);
  mkdirSync(path.dirname(armFile), { recursive: true });
  writeFileSync(armFile, armTemplateText(tables, functions));
  const sentinelFile = path.join(root, SENTINEL_TEMPLATE);
  writeFileSync(sentinelFile, sentinelTemplateText());
  const workbookFile = path.join(root, WORKBOOK);
  writeFileSync(workbookFile, workbookText());
  return [tablesFile, armFile, sentinelFile, workbookFile];
}

if (require.main === module) {
  for (const file of generate()) process.stdout.write(`wrote ${file}\n`);
}
