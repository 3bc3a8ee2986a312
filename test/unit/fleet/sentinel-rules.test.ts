import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Ajv from 'ajv';
import yaml from 'js-yaml';
import { fleetTables, schemaText } from '../../../src/fleet/adx/tables';
import { SENTINEL_TEMPLATE, sentinelTemplateText, defaultSchemaSet, WORKBOOK, workbookText } from '../../../src/fleet/adx/generate';
import { WORKBOOK_PARAMETERS } from '../../../src/fleet/deploy/workbook';
import { SENTINEL_TABLES } from '../../../src/fleet/deploy/sentinel-functions';
import { armValidator, resourceErrors } from './arm-schemas';
import { REPO_ROOT } from './fixtures';
import { KustoChecker } from './kusto-language';

type Json = Record<string, unknown>;
const RULES_DIR = path.join(REPO_ROOT, 'fleet', 'sentinel', 'rules');
const SCHEMA = JSON.parse(readFileSync(path.join(REPO_ROOT, 'fleet', 'schemas', 'sentinel', 'scheduled-analytics-rule.schema.json'), 'utf8')) as Json;

/** Identifiers Sentinel accepts per entity type (Azure-Sentinel EntityMappingIdentifiers, the types used here). */
const IDENTIFIERS: Record<string, string[]> = {
  Account: ['Name', 'FullName', 'NTDomain', 'DnsDomain', 'UPNSuffix', 'Sid', 'AadTenantId', 'AadUserId', 'PUID', 'IsDomainJoined', 'DisplayName', 'ObjectGuid'],
  Host: ['DnsDomain', 'NTDomain', 'HostName', 'FullName', 'NetBiosName', 'AzureID', 'OMSAgentID', 'OSFamily', 'OSVersion', 'IsDomainJoined'],
  IoTDevice: ['DeviceId', 'DeviceName', 'Manufacturer', 'Model', 'FirmwareVersion', 'OperatingSystem', 'MacAddress', 'Protocols', 'SerialNumber', 'Source', 'IoTSecurityAgentId', 'DeviceType'],
  IP: ['Address'],
  Process: ['ProcessId', 'CommandLine', 'ElevationToken', 'CreationTimeUtc'],
  File: ['Directory', 'Name'],
};

function minutes(span: string): number {
  const n = Number(span.slice(0, -1));
  return span.endsWith('m') ? n : span.endsWith('h') ? n * 60 : n * 1440;
}

interface Rule {
  file: string;
  doc: Json & { id: string; query: string; queryFrequency: string; queryPeriod: string; entityMappings?: Array<{ entityType: string; fieldMappings: Array<{ identifier: string; columnName: string }> }>; customDetails?: Record<string, string>; alertDetailsOverride?: Record<string, string> };
}

function rules(): Rule[] {
  return readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file, doc: yaml.load(readFileSync(path.join(RULES_DIR, file), 'utf8')) as Rule['doc'] }));
}

/** Problems with one rule: schema, the cross-field checks of Azure-Sentinel's validator, and its query. */
function ruleProblems(rule: Rule, checker: KustoChecker): string[] {
  const problems: string[] = [];
  const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);
  if (!validate(rule.doc)) problems.push(...(validate.errors ?? []).map((e) => `schema ${e.instancePath} ${e.message ?? ''}`));
  const freq = minutes(rule.doc.queryFrequency);
  const period = minutes(rule.doc.queryPeriod);
  if (freq < 5 || freq > 14 * 1440 || period < 5 || period > 14 * 1440) problems.push('queryFrequency and queryPeriod must be within 5m..14d');
  if (period < freq) problems.push('queryPeriod shorter than queryFrequency');
  const { diagnostics, resultColumns } = checker.check(rule.doc.query);
  for (const d of diagnostics.filter((x) => x.severity === 'Error')) problems.push(`query ${d.code} at ${d.start}: ${d.message}`);
  const columns = new Set((resultColumns ?? []).map((c) => c.name));
  for (const m of rule.doc.entityMappings ?? []) {
    for (const f of m.fieldMappings) {
      if (!(IDENTIFIERS[m.entityType] ?? []).includes(f.identifier)) problems.push(`${m.entityType} has no identifier ${f.identifier}`);
      if (!columns.has(f.columnName)) problems.push(`entity column ${f.columnName} is not in the query result`);
    }
  }
  for (const c of Object.values(rule.doc.customDetails ?? {})) if (!columns.has(c)) problems.push(`custom detail column ${c} is not in the query result`);
  for (const [k, v] of Object.entries(rule.doc.alertDetailsOverride ?? {})) {
    const refs = k.endsWith('ColumnName') ? [v] : [...v.matchAll(/\{\{([^}]+)\}\}/g)].map((m) => m[1]!);
    for (const r of refs) if (!columns.has(r)) problems.push(`${k} refers to ${r}, not in the query result`);
  }
  return problems;
}

function checker(): KustoChecker {
  return new KustoChecker(fleetTables(defaultSchemaSet()).map((t) => ({ name: t.name, schema: schemaText(t.columns) })));
}

describe('Sentinel analytics rules (fleet/sentinel/rules)', () => {
  test('every rule validates against the rule schema, the Sentinel cross-field checks and the Kusto language service', () => {
    const k = checker();
    const all = rules();
    assert.ok(all.length >= 5, `${all.length} rules`);
    const problems = all.flatMap((r) => ruleProblems(r, k).map((p) => `${r.file}: ${p}`));
    assert.deepEqual(problems, []);
    assert.equal(new Set(all.map((r) => r.doc.id)).size, all.length, 'rule ids are unique');
  });

  test('the checks can fail: a bad severity, an unknown column, a period shorter than the frequency, a bad identifier', () => {
    const k = checker();
    const first = rules().find((r) => r.file === 'EdgeGuardHighSeverityAlert.yaml');
    const broken: Rule = {
      file: 'broken.yaml',
      doc: {
        ...first!.doc,
        severity: 'Critical',
        queryPeriod: '1m',
        query: first!.doc.query.replace("Severity == 'High'", "Severity == 'High' and Severty == 'x'"),
        entityMappings: [{ entityType: 'Host', fieldMappings: [{ identifier: 'Address', columnName: 'NoSuchColumn' }] }],
      },
    };
    const problems = ruleProblems(broken, k);
    assert.ok(problems.some((p) => p.startsWith('schema /severity')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes("'Severty'")), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('5m..14d')));
    assert.ok(problems.includes('Host has no identifier Address'));
    assert.ok(problems.includes('entity column NoSuchColumn is not in the query result'));
  });

  test('the workspace functions the rules read, and the workbook, are generated and validate against the published ARM schemas', () => {
    const file = path.join(REPO_ROOT, SENTINEL_TEMPLATE);
    assert.equal(readFileSync(file, 'utf8'), sentinelTemplateText());
    const template = JSON.parse(readFileSync(file, 'utf8')) as { resources: Json[] };
    assert.deepEqual(armValidator()(template), []);
    for (const r of template.resources) assert.deepEqual(resourceErrors(r), []);
    const aliases = template.resources.filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/savedSearches').map((r) => (r.properties as Json).functionAlias);
    assert.deepEqual(aliases, [...SENTINEL_TABLES]);
    const workbook = template.resources.find((r) => r.type === 'Microsoft.Insights/workbooks');
    assert.deepEqual(JSON.parse(String((workbook?.properties as Json).serializedData)), JSON.parse(readFileSync(path.join(REPO_ROOT, WORKBOOK), 'utf8')));
    const used = new Set(rules().map((r) => /^\s*(\w+)/.exec(r.doc.query.split('\n').find((l) => /^\w/.test(l.trim()) && !l.trim().startsWith('let')) ?? '')?.[1]));
    for (const u of used) assert.ok(SENTINEL_TABLES.includes(String(u)), `rule reads ${String(u)}, which no workspace function provides`);
  });
});

describe('fleet workbook (fleet/sentinel/EdgeGuardFleet.workbook)', () => {
  const file = path.join(REPO_ROOT, WORKBOOK);
  const workbook = (): { items: Array<Json & { content: Json }> } => JSON.parse(readFileSync(file, 'utf8')) as { items: Array<Json & { content: Json }> };

  test('is generated and validates against the published workbook schema', () => {
    assert.equal(readFileSync(file, 'utf8'), workbookText());
    const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, 'fleet', 'schemas', 'workbook', 'workbook.json'), 'utf8')) as Json;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    assert.ok(validate(workbook()), JSON.stringify(validate.errors));
    assert.equal(validate({ version: 'Notebook/1.0' }), false, 'the schema requires items');
  });

  test('every query type-checks once the parameters are filled in; a device click opens its timeline', () => {
    const k = checker();
    const errors: string[] = [];
    const queries = workbook().items.filter((i) => i.type === 3);
    assert.ok(queries.length >= 6);
    for (const item of queries) {
      let text = String(item.content.query);
      for (const [param, value] of Object.entries(WORKBOOK_PARAMETERS)) text = text.split(param).join(value);
      assert.doesNotMatch(text, /\{[A-Za-z]+\}/, `${String(item.name)} uses an unknown parameter`);
      errors.push(...k.check(text).diagnostics.filter((d) => d.severity === 'Error').map((d) => `${String(item.name)}: ${d.code} ${d.message}`));
    }
    assert.deepEqual(errors, []);
    const devices = queries.find((i) => i.name === 'devices')!;
    assert.equal(devices.content.exportParameterName, 'SelectedDevice');
    const timeline = queries.find((i) => i.name === 'device-timeline')!;
    assert.match(String(timeline.content.query), /'\{SelectedDevice\}'/);
  });
});
