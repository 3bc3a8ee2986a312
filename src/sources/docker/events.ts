/** One record of the Engine API's GET /events stream, checked and normalised. */
export interface DockerEvent {
  /** container, image, volume, network, daemon, plugin, service, node, secret, config. */
  readonly type: string;
  /** The action without its detail: "exec_create" for "exec_create: sh -c id". */
  readonly action: string;
  /** What follows "<action>: " in the raw action (the exec command on engines that put it there), else "". */
  readonly actionDetail: string;
  readonly actorId: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Exact nanoseconds since the epoch (a JSON number this large loses precision as a double). */
  readonly timeNano: bigint;
}

export type ParsedLine = { ok: true; event: DockerEvent } | { ok: false; error: string };

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one line of the events stream. Never throws: a line that is not an event object says why.
 * timeNano is read from the text itself so that it keeps all its digits.
 */
export function parseDockerEventLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { ok: false, error: `not JSON (${(error as Error).message})` };
  }
  if (!isObject(value)) return { ok: false, error: 'not a JSON object' };
  const type = value.Type;
  const rawAction = value.Action ?? value.status;
  if (typeof type !== 'string' || type === '') return { ok: false, error: 'no Type' };
  if (typeof rawAction !== 'string' || rawAction === '') return { ok: false, error: 'no Action' };
  const actor = isObject(value.Actor) ? value.Actor : {};
  const actorId = typeof actor.ID === 'string' ? actor.ID : typeof value.id === 'string' ? value.id : '';
  const attributes: Record<string, string> = {};
  if (isObject(actor.Attributes)) {
    for (const [k, v] of Object.entries(actor.Attributes)) if (typeof v === 'string') attributes[k] = v;
  }
  const timeNano = eventTimeNano(line, value);
  if (timeNano === undefined) return { ok: false, error: 'no time or timeNano' };
  const colon = rawAction.indexOf(':');
  const action = (colon < 0 ? rawAction : rawAction.slice(0, colon)).trim();
  const actionDetail = colon < 0 ? '' : rawAction.slice(colon + 1).trim();
  return { ok: true, event: { type, action, actionDetail, actorId, attributes, timeNano } };
}

function eventTimeNano(line: string, value: Json): bigint | undefined {
  if (typeof value.timeNano === 'number') {
    const exact = /"timeNano"\s*:\s*(\d{1,25})\b/.exec(line);
    if (exact) return BigInt(exact[1]!);
  }
  if (typeof value.time === 'number' && Number.isFinite(value.time) && value.time >= 0) {
    return BigInt(Math.trunc(value.time)) * 1_000_000_000n;
  }
  return undefined;
}

/** The `since` query value for a time in nanoseconds: "seconds.nanoseconds", as the daemon accepts it. */
export function formatSince(timeNano: bigint): string {
  const t = timeNano < 0n ? 0n : timeNano;
  return `${t / 1_000_000_000n}.${String(t % 1_000_000_000n).padStart(9, '0')}`;
}

export function eventTimeIso(timeNano: bigint): string {
  return new Date(Number(timeNano / 1_000_000n)).toISOString();
}

/** Identity of an event for duplicate detection across a reconnect. */
export function eventKey(e: DockerEvent): string {
  return `${e.timeNano}|${e.type}|${e.action}|${e.actorId}|${e.actionDetail}|${e.attributes.execID ?? ''}`;
}

/**
 * Where to resume the events stream after a reconnect, and which replayed events were already
 * handled. The daemon replays events with time >= since; since is set a margin before the last
 * event seen, because the daemon stamps events before it orders them and two may arrive out of
 * time order. Events seen within that window are remembered (bounded: the daemon keeps only the
 * last 1000 events anyway) and dropped when replayed.
 */
export class EventCursor {
  private readonly seen = new Set<string>();
  private last: bigint | undefined;
  private floor: bigint | undefined;

  constructor(
    private readonly marginNs = 1_000_000_000n,
    private readonly capacity = 4096,
  ) {}

  /** The stream first opened at this time: a resume never goes back before it. */
  opened(timeNano: bigint): void {
    if (this.floor === undefined) this.floor = timeNano;
  }

  /** Records the event; false when it was already handled (a replay). */
  accept(e: DockerEvent): boolean {
    const key = eventKey(e);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.capacity) {
      // Sets iterate in insertion order: drop the oldest.
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    if (this.last === undefined || e.timeNano > this.last) this.last = e.timeNano;
    return true;
  }

  /** The `since` for the next connection, undefined before the stream ever opened. */
  since(): string | undefined {
    const candidates: bigint[] = [];
    if (this.last !== undefined) candidates.push(this.last - this.marginNs);
    if (this.floor !== undefined) candidates.push(this.floor);
    if (candidates.length === 0) return undefined;
    return formatSince(candidates.reduce((a, b) => (a > b ? a : b)));
  }

  get lastTimeNano(): bigint | undefined {
    return this.last;
  }
}
