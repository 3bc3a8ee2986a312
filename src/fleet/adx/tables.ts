import type { Column, KustoType, SchemaSet } from './columns';

/**
 * The fleet tables in Azure Data Explorer, derived from the event schemas: one raw row per message (as
 * the data connection ingests it), one row per event payload item, and one typed row per alert,
 * recommendation and manifest finding. Device and module ids come from IoT Hub's system properties.
 */
export interface FleetTable {
  readonly name: string;
  readonly docstring: string;
  readonly columns: readonly Column[];
  /** Update policy: the function that fills this table from `source` (absent for the raw table). */
  readonly update?: { readonly source: string; readonly functionName: string; readonly body: string };
  readonly retentionDays: number;
  readonly hotCacheDays: number;
}

export const RAW_TABLE = 'EdgeGuardRaw';
/**
 * Where the data connection writes. IoT Hub's built-in endpoint also carries other devices' telemetry
 * (the fallback route): an update policy keeps only security messages, and this table keeps nothing.
 */
export const INGEST_TABLE = 'EdgeGuardIngest';
export const EVENTS_TABLE = 'EdgeGuardEvents';
export const RAW_MAPPING = 'EdgeGuardRawMapping';

/** System properties the IoT Hub data connection adds to each record (names as ADX spells them). */
export const SYSTEM_PROPERTY_COLUMNS: readonly Column[] = [
  { name: 'EnqueuedTime', type: 'datetime', source: "$['iothub-enqueuedtime']", description: 'When IoT Hub received the message' },
  { name: 'DeviceId', type: 'string', source: "$['iothub-connection-device-id']", description: 'IoT Edge device that sent it' },
  { name: 'ModuleId', type: 'string', source: "$['iothub-connection-module-id']", description: 'Module that sent it (EdgeGuard)' },
  { name: 'MessageId', type: 'string', source: "$['message-id']", description: 'Message id set by EdgeGuard' },
];

/** Typed tables: one row per payload item of these event types. */
export const TYPED_EVENT_TABLES: ReadonlyArray<{ table: string; event: string; schemaFile: string; docstring: string; retentionDays: number; hotCacheDays: number }> = [
  { table: 'EdgeGuardAlerts', event: 'SecurityAlert', schemaFile: 'SecurityAlert.json', docstring: 'EdgeGuard: one row per alert item (SecurityAlert payload)', retentionDays: 365, hotCacheDays: 90 },
  { table: 'EdgeGuardRecommendations', event: 'SecurityRecommendation', schemaFile: 'SecurityRecommendation.json', docstring: 'EdgeGuard: one row per recommendation item (SecurityRecommendation payload)', retentionDays: 180, hotCacheDays: 31 },
  { table: 'EdgeGuardManifestFindings', event: 'DeploymentManifestAnalysis', schemaFile: 'DeploymentManifestAnalysis.json', docstring: 'EdgeGuard: one row per deployment manifest finding (DeploymentManifestAnalysis payload)', retentionDays: 180, hotCacheDays: 31 },
];

const CONVERT: Record<KustoType, (expr: string) => string> = {
  string: (e) => `tostring(${e})`,
  long: (e) => `tolong(${e})`,
  real: (e) => `toreal(${e})`,
  bool: (e) => `tobool(${e})`,
  datetime: (e) => `todatetime(${e})`,
  dynamic: (e) => e,
};

function kqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function fleetTables(schemas: SchemaSet): FleetTable[] {
  const envelope = schemas.envelopeColumns();
  const ingest: FleetTable = {
    name: INGEST_TABLE,
    docstring: 'EdgeGuard: staging table of the data connection (everything on the endpoint); retains nothing',
    columns: [...SYSTEM_PROPERTY_COLUMNS, ...envelope],
    retentionDays: 0,
    hotCacheDays: 0,
  };
  const raw: FleetTable = {
    name: RAW_TABLE,
    docstring: 'EdgeGuard: one row per security message as IoT Hub routed it',
    columns: ingest.columns,
    update: {
      source: INGEST_TABLE,
      functionName: 'EdgeGuardKeepSecurityMessages',
      body: [INGEST_TABLE, "| where isnotempty(AgentId) and array_length(Events) > 0"].join('\n'),
    },
    retentionDays: 14,
    hotCacheDays: 3,
  };

  const ids = ['EnqueuedTime', 'DeviceId', 'ModuleId', 'AgentId'];
  const eventCols = schemas.eventColumns();
  const eventsColumns: Column[] = [
    ...raw.columns.filter((c) => ids.includes(c.name)),
    ...eventCols,
    { name: 'ItemIndex', type: 'long', source: 'ItemIndex', description: 'Position of the payload item in its event (0 for an empty event)' },
  ];
  const eventProjection = [
    ...ids,
    ...eventCols.map((c) => (c.name === 'Payload' ? 'Payload = Item' : `${c.name} = ${CONVERT[c.type](`Event[${kqlString(c.name)}]`)}`)),
    'ItemIndex = tolong(ItemIndex)',
  ];
  const events: FleetTable = {
    name: EVENTS_TABLE,
    docstring: 'EdgeGuard: one row per event payload item (one row for an empty event)',
    columns: eventsColumns,
    update: {
      source: RAW_TABLE,
      functionName: 'EdgeGuardExpandEvents',
      body: [
        RAW_TABLE,
        '| mv-expand Event = Events',
        "| extend Items = iff(array_length(Event['Payload']) > 0, Event['Payload'], dynamic([{}]))",
        '| mv-expand with_itemindex = ItemIndex Item = Items',
        `| project ${eventProjection.join(',\n    ')}`,
      ].join('\n'),
    },
    retentionDays: 90,
    hotCacheDays: 14,
  };

  const typed = TYPED_EVENT_TABLES.map((t): FleetTable => {
    const payload = schemas.payloadColumns(t.schemaFile);
    const common: Column[] = [
      ...ids.map((n) => eventsColumns.find((c) => c.name === n)!),
      { name: 'EventId', type: 'string', source: 'Id', description: 'Id of the event that carried the item' },
      { name: 'TimestampUTC', type: 'datetime', source: 'TimestampUTC', description: 'When EdgeGuard created the event' },
    ];
    const projection = [...ids, 'EventId = Id', 'TimestampUTC', ...payload.map((c) => `${c.name} = ${CONVERT[c.type](`Payload[${kqlString(c.source)}]`)}`)];
    return {
      name: t.table,
      docstring: t.docstring,
      columns: [...common, ...payload],
      update: {
        source: EVENTS_TABLE,
        functionName: `EdgeGuardExpand${t.event}`,
        body: [EVENTS_TABLE, `| where Name == ${kqlString(t.event)} and not(IsEmpty)`, `| project ${projection.join(',\n    ')}`].join('\n'),
      },
      retentionDays: t.retentionDays,
      hotCacheDays: t.hotCacheDays,
    };
  });
  return [ingest, raw, events, ...typed];
}

/** `(Name:type, …)` as Kusto writes a table schema. */
export function schemaText(columns: readonly Column[]): string {
  return `(${columns.map((c) => `${c.name}:${c.type}`).join(', ')})`;
}

/** The JSON ingestion mapping of the staging table: system properties and the message envelope. */
export function rawMapping(table: FleetTable): Array<{ column: string; datatype: KustoType; Properties: { Path: string } }> {
  return table.columns.map((c) => ({ column: c.name, datatype: c.type, Properties: { Path: c.source } }));
}

/** The control commands that create everything, in order, as one script (fleet/adx/tables.kql). */
export function tablesScript(tables: readonly FleetTable[]): string {
  const out: string[] = [
    '// GENERATED by `npm run fleet:generate` from schemas/events and the Defender for IoT message schema. Do not edit:',
    '// change the schemas (or src/fleet/adx/tables.ts) and regenerate. Run with the ADX web UI or `Kusto.Cli` in',
    '// script mode against the EdgeGuard database; every command is idempotent.',
    '',
  ];
  for (const t of tables) {
    out.push(`// ${t.name}: ${t.docstring}`);
    out.push(`.create-merge table ${t.name} ${schemaText(t.columns)} with (folder = 'EdgeGuard', docstring = ${kqlString(t.docstring)})`, '');
  }
  const ingest = tables.find((t) => t.name === INGEST_TABLE)!;
  out.push(`// JSON mapping for the data connection: IoT Hub system properties and the message envelope.`);
  out.push(`.create-or-alter table ${INGEST_TABLE} ingestion json mapping ${kqlString(RAW_MAPPING)} ${kqlString(JSON.stringify(rawMapping(ingest)))}`, '');
  for (const t of tables) {
    if (!t.update) continue;
    out.push(`.create-or-alter function with (folder = 'EdgeGuard/update', docstring = ${kqlString(`Update policy of ${t.name}`)}) ${t.update.functionName}() {\n${indent(t.update.body)}\n}`, '');
    const policy = JSON.stringify([{ IsEnabled: true, Source: t.update.source, Query: `${t.update.functionName}()`, IsTransactional: true, PropagateIngestionProperties: false }]);
    out.push(`.alter table ${t.name} policy update ${kqlString(policy)}`, '');
  }
  for (const t of tables) {
    out.push(`.alter-merge table ${t.name} policy retention softdelete = ${t.retentionDays}d recoverability = disabled`, '');
    if (t.hotCacheDays > 0) out.push(`.alter table ${t.name} policy caching hot = ${t.hotCacheDays}d`, '');
  }
  // Alerts must be queryable within a minute, not the default 5 minutes of batching.
  out.push(`.alter table ${INGEST_TABLE} policy ingestionbatching ${kqlString(JSON.stringify({ MaximumBatchingTimeSpan: '00:00:30', MaximumNumberOfItems: 1000, MaximumRawDataSizeMB: 256 }))}`, '');
  return out.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}
