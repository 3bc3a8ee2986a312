import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SchemaSet } from '../../../src/fleet/adx/columns';
import { referenceMessageSchemaDir } from '../../../src/fleet/adx/generate';
import { fleetTables, INGEST_TABLE, rawMapping, RAW_MAPPING, RAW_TABLE, schemaText, tablesScript, TYPED_EVENT_TABLES, type FleetTable } from '../../../src/fleet/adx/tables';
import { REPO_ROOT } from './fixtures';
import { declaredFunction, KustoChecker, position, readScript, type DeclaredFunction, type ScriptCommand } from './kusto-language';

const OWN = path.join(REPO_ROOT, 'schemas', 'events');
const REFERENCE = referenceMessageSchemaDir();
const ADX_DIR = path.join(REPO_ROOT, 'fleet', 'adx');

const schemas = new SchemaSet(OWN, REFERENCE);
const tables = fleetTables(schemas);

/** Every .kql script of fleet/adx and the functions they declare. */
function scripts(): Array<{ file: string; commands: ScriptCommand[] }> {
  return readdirSync(ADX_DIR)
    .filter((f) => f.endsWith('.kql'))
    .sort()
    .map((f) => ({ file: f, commands: readScript(path.join(ADX_DIR, f)) }));
}

function allFunctions(): DeclaredFunction[] {
  return scripts().flatMap((s) => s.commands.map((c) => declaredFunction(c.text)).filter((f): f is DeclaredFunction => f !== undefined));
}

function checker(): KustoChecker {
  return new KustoChecker(
    tables.map((t) => ({ name: t.name, schema: schemaText(t.columns) })),
    allFunctions(),
  );
}

function errorsOf(k: KustoChecker, command: ScriptCommand, file: string): string[] {
  return k
    .check(command.text)
    .diagnostics.filter((d) => d.severity === 'Error')
    .map((d) => `${file}:${position(command, d.start)} ${d.code} ${d.message} («${command.text.slice(d.start, d.start + d.length)}»)`);
}

/** Property names of a payload item, read straight from the schema file (no shared code with the generator). */
function schemaPayloadKeys(file: string): string[] {
  const doc = JSON.parse(readFileSync(path.join(OWN, file), 'utf8')) as { properties?: { Payload?: { items?: { properties?: Record<string, unknown> } } } };
  return Object.keys(doc.properties?.Payload?.items?.properties ?? {});
}

describe('ADX scripts: Kusto language service', () => {
  test('fleet/adx/tables.kql is what the schemas generate (run `npm run fleet:generate` after a schema change)', () => {
    assert.equal(readFileSync(path.join(ADX_DIR, 'tables.kql'), 'utf8'), tablesScript(tables));
  });

  test('every command, function and update policy parses and type-checks against the declared tables', () => {
    const k = checker();
    const errors: string[] = [];
    let commands = 0;
    for (const s of scripts()) {
      for (const c of s.commands) {
        commands++;
        errors.push(...errorsOf(k, c, s.file));
      }
    }
    // The update policies' queries are strings inside the policy JSON: check each one as a query too.
    for (const t of tables.filter((x) => x.update)) {
      const query: ScriptCommand = { text: `${t.update!.functionName}()`, line: 0 };
      errors.push(...errorsOf(k, query, `policy update of ${t.name}`));
    }
    assert.deepEqual(errors, []);
    assert.ok(commands >= 30, `only ${commands} commands checked`);
    const functions = allFunctions().map((f) => f.name);
    for (const wanted of ['EdgeGuardAlertOverview', 'EdgeGuardDeviceTimeline', 'EdgeGuardTopRules', 'EdgeGuardTopDevices', 'EdgeGuardRareExecutables', 'EdgeGuardRarePorts', 'EdgeGuardRareDestinations', 'EdgeGuardDeviceSilent', 'EdgeGuardSmallMessageDevices', 'EdgeGuardFleetManifestFindings']) {
      assert.ok(functions.includes(wanted), `${wanted} missing`);
    }
  });

  test('the checker catches what it should: an unknown column, a wrong type and a syntax error, with positions', () => {
    const k = checker();
    const bad: ScriptCommand = { text: ".create-or-alter function F() {\n    EdgeGuardAlerts\n    | where Severty == 'High'\n}", line: 10 };
    const [unknown] = errorsOf(k, bad, 'x.kql');
    assert.match(unknown ?? '', /^x\.kql:12:13 KS142 The name 'Severty' does not refer to any known column/);
    assert.ok(errorsOf(k, { text: 'EdgeGuardAlerts | where Count > now()', line: 1 }, 'x.kql').length > 0);
    assert.ok(errorsOf(k, { text: 'EdgeGuardAlerts | where (', line: 1 }, 'x.kql').length > 0);
  });

  test('each update policy produces exactly its target table (names and types, in order)', () => {
    const k = checker();
    for (const t of tables.filter((x): x is FleetTable & { update: NonNullable<FleetTable['update']> } => x.update !== undefined)) {
      const { resultColumns } = k.check(`${t.update.functionName}()`);
      assert.deepEqual(resultColumns, t.columns.map((c) => ({ name: c.name, type: c.type })), t.name);
    }
  });
});

describe('ADX tables follow the event schemas', () => {
  test('each typed table has a column for every payload property of its schema', () => {
    for (const t of TYPED_EVENT_TABLES) {
      const table = tables.find((x) => x.name === t.table)!;
      const columns = table.columns.map((c) => c.name);
      for (const key of schemaPayloadKeys(t.schemaFile)) assert.ok(columns.includes(key), `${t.table} lacks ${key} of ${t.schemaFile}`);
    }
  });

  test('the mapping maps every column of the ingest table (= the raw table), the envelope from the body and the ids from system properties', () => {
    const raw = tables.find((t) => t.name === INGEST_TABLE)!;
    assert.deepEqual(raw.columns, tables.find((t) => t.name === RAW_TABLE)!.columns);
    const mapping = rawMapping(raw);
    assert.deepEqual(mapping.map((m) => m.column), raw.columns.map((c) => c.name));
    const envelope = Object.keys((JSON.parse(readFileSync(path.join(REFERENCE, 'message_v1_0.json'), 'utf8')) as { properties: Record<string, unknown> }).properties);
    for (const key of envelope) assert.ok(mapping.some((m) => m.column === key && m.Properties.Path === `$.${key}`), `envelope ${key} not mapped`);
    assert.equal(mapping.find((m) => m.column === 'DeviceId')?.Properties.Path, "$['iothub-connection-device-id']");
    assert.equal(mapping.find((m) => m.column === 'ModuleId')?.Properties.Path, "$['iothub-connection-module-id']");
    const script = readFileSync(path.join(ADX_DIR, 'tables.kql'), 'utf8');
    assert.ok(script.includes(`ingestion json mapping '${RAW_MAPPING}'`));
  });

  test('a new payload field reaches the table: a schema with an extra property gets an extra typed column', () => {
    const extended = new (class extends SchemaSet {
      override read(file: string): Record<string, unknown> {
        const doc = super.read(file);
        if (file !== 'SecurityAlert.json') return doc;
        const copy = JSON.parse(JSON.stringify(doc)) as { properties: { Payload: { items: { properties: Record<string, unknown> } } } };
        copy.properties.Payload.items.properties.Confidence = { type: 'number' };
        return copy as unknown as Record<string, unknown>;
      }
    })(OWN, REFERENCE);
    const alerts = fleetTables(extended).find((t) => t.name === 'EdgeGuardAlerts')!;
    assert.deepEqual(alerts.columns.at(-1), { name: 'Confidence', type: 'real', source: 'Confidence', description: undefined });
    assert.match(alerts.update!.body, /Confidence = toreal\(Payload\['Confidence'\]\)/);
  });

  test("every Payload['X'] the queries read is a payload property of some event schema", () => {
    const known = new Set<string>();
    for (const f of readdirSync(OWN).filter((x) => x.endsWith('.json'))) schemaPayloadKeys(f).forEach((k) => known.add(k));
    for (const f of readdirSync(REFERENCE).filter((x) => x.startsWith('messageEvent') && !x.includes('TypeDefinitions'))) {
      const doc = JSON.parse(readFileSync(path.join(REFERENCE, f), 'utf8')) as { properties?: { Payload?: { items?: { properties?: Record<string, unknown> } } } };
      Object.keys(doc.properties?.Payload?.items?.properties ?? {}).forEach((k) => known.add(k));
    }
    const text = readFileSync(path.join(ADX_DIR, 'functions.kql'), 'utf8');
    const used = [...text.matchAll(/Payload\['([A-Za-z0-9_]+)'\]/g)].map((m) => m[1]!);
    assert.ok(used.length > 0);
    for (const u of used) assert.ok(known.has(u), `Payload['${u}'] is in no event schema`);
  });
});
