import type { ExtraDetails, PayloadItem } from '../../core/event';

/**
 * What makes two raw events "identical" for aggregation, per type, as Defender's agents define it.
 * `normalize` returns the payload item the Aggregated event carries: the fields that vary between
 * hits (process ids, the ephemeral port) are zeroed or left out, so every hit of a key has the same item.
 */
export interface AggregationRule {
  readonly name: string;
  key(item: PayloadItem): string;
  normalize(item: PayloadItem): PayloadItem;
}

/** ExtraDetails names the aggregator writes; an input's own values under these names are replaced. */
export const AGGREGATION_DETAILS = ['StartTimeUtc', 'EndTimeUtc', 'StartTimeLocal', 'EndTimeLocal', 'HitCount'] as const;

const SEP = '\u0001';

function text(value: unknown): string {
  return value === undefined || value === null ? '' : typeof value === 'string' ? value : String(value);
}

/** The input's ExtraDetails are part of the key, so an Aggregated event carries them unchanged. */
function detailsKey(details: ExtraDetails | undefined): string {
  if (details === undefined) return '';
  const keys = Object.keys(details);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let out = '';
  for (const k of keys) out += `${SEP}${k}=${details[k]}`;
  return out;
}

function withDetails(item: PayloadItem, source: PayloadItem): PayloadItem {
  if (source.ExtraDetails !== undefined && Object.keys(source.ExtraDetails).length > 0) item.ExtraDetails = { ...source.ExtraDetails };
  return item;
}

/** Direction "In"/"Out" as the schema spells it; "Inbound" from a lenient source counts as In. */
function isInbound(direction: unknown): boolean {
  return typeof direction === 'string' && direction.startsWith('In');
}

const processCreate: AggregationRule = {
  name: 'ProcessCreate',
  key: (i) => `${text(i.Executable)}${SEP}${text(i.CommandLine)}${SEP}${text(i.UserId)}${SEP}${text(i.UserName)}${detailsKey(i.ExtraDetails)}`,
  normalize: (i) => {
    const item: PayloadItem = { Executable: i.Executable, ProcessId: 0, ParentProcessId: 0, UserId: i.UserId, CommandLine: i.CommandLine };
    if (i.UserName !== undefined) item.UserName = i.UserName;
    return withDetails(item, i);
  },
};

const processTerminate: AggregationRule = {
  name: 'ProcessTerminate',
  key: (i) => `${text(i.Executable)}${SEP}${text(i.ExitStatus)}${detailsKey(i.ExtraDetails)}`,
  normalize: (i) => withDetails({ Executable: i.Executable, ProcessId: 0, ExitStatus: i.ExitStatus }, i),
};

/**
 * Inbound connections are keyed by the local (service) port, outbound ones by the remote port; the
 * other port is ephemeral. RemotePort is required by the schema, so an inbound aggregate carries "0";
 * LocalPort is optional, so an outbound aggregate leaves it out.
 */
const connectionCreate: AggregationRule = {
  name: 'ConnectionCreate',
  key: (i) => {
    const port = isInbound(i.Direction) ? `L${text(i.LocalPort)}` : `R${text(i.RemotePort)}`;
    return `${text(i.Executable)}${SEP}${text(i.CommandLine)}${SEP}${text(i.UserId)}${SEP}${text(i.Direction)}${SEP}${text(i.LocalAddress)}${SEP}${text(i.RemoteAddress)}${SEP}${text(i.Protocol)}${SEP}${port}${detailsKey(i.ExtraDetails)}`;
  },
  normalize: (i) => {
    const inbound = isInbound(i.Direction);
    const item: PayloadItem = {};
    if (i.LocalAddress !== undefined) item.LocalAddress = i.LocalAddress;
    if (inbound && i.LocalPort !== undefined) item.LocalPort = i.LocalPort;
    item.RemoteAddress = i.RemoteAddress;
    item.RemotePort = inbound ? '0' : i.RemotePort;
    item.Direction = i.Direction;
    item.Protocol = i.Protocol;
    item.ProcessId = 0;
    if (i.UserId !== undefined) item.UserId = i.UserId;
    item.Executable = i.Executable;
    if (i.CommandLine !== undefined) item.CommandLine = i.CommandLine;
    return withDetails(item, i);
  },
};

export const AGGREGATION_RULES: ReadonlyMap<string, AggregationRule> = new Map(
  [processCreate, processTerminate, connectionCreate].map((r) => [r.name, r]),
);
