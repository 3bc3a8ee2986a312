import { randomUUID } from 'node:crypto';
import type { ConfigView } from '../config/config-view';
import { createEvent, type PayloadItem, type SecurityEvent } from '../core/event';
import type { Logger } from '../core/logger';
import type { Clock } from '../pipeline/types';
import { AGGREGATION_RULES, type AggregationRule } from './aggregation-keys';

/** Distinct keys one type's window may hold; past it the window closes early (nothing is dropped). */
export const DEFAULT_MAX_KEYS_PER_WINDOW = 2048;

export interface AggregatorOptions {
  readonly clock: Clock;
  /** Receives each Aggregated event (or the original Triggered event of a single-hit key). */
  readonly emit: (event: SecurityEvent) => void;
  readonly maxKeysPerWindow?: number;
  readonly log?: Logger;
}

export interface AggregatorStats {
  /** Raw payload items absorbed into open windows right now. */
  pendingHits: number;
  /** Distinct keys in open windows right now. */
  pendingKeys: number;
  /** Windows closed before their interval because they reached the key limit. */
  earlyCloses: number;
}

interface Hits {
  count: number;
  first: SecurityEvent;
  item: PayloadItem;
  startUtc: string;
  startLocal: string;
  endUtc: string;
  endLocal: string;
}

interface TypeWindow {
  readonly rule: AggregationRule;
  enabled: boolean;
  intervalMs: number;
  openedAt: number;
  timer: unknown;
  hits: Map<string, Hits>;
  pendingHits: number;
}

/**
 * Collapses identical ProcessCreate / ProcessTerminate / ConnectionCreate events seen within a window
 * (per type: aggregationEnabled<Name>, aggregationInterval<Name>) into one `Aggregated` event whose
 * ExtraDetails say when the first and last hit happened and how many there were.
 */
export class Aggregator {
  private readonly windows = new Map<string, TypeWindow>();
  private readonly maxKeys: number;
  private earlyCloses = 0;

  constructor(private readonly options: AggregatorOptions) {
    this.maxKeys = Math.max(1, options.maxKeysPerWindow ?? DEFAULT_MAX_KEYS_PER_WINDOW);
    for (const rule of AGGREGATION_RULES.values()) {
      this.windows.set(rule.name, { rule, enabled: false, intervalMs: 0, openedAt: 0, timer: undefined, hits: new Map(), pendingHits: 0 });
    }
  }

  /** Applies the aggregation settings; a disabled type's open window is emitted, a changed interval rescheduled. */
  configure(config: ConfigView): void {
    for (const w of this.windows.values()) {
      const enabledName = `aggregationEnabled${w.rule.name}`;
      const intervalName = `aggregationInterval${w.rule.name}`;
      const enabled = config.has(enabledName) ? config.boolean(enabledName) : false;
      const intervalMs = config.has(intervalName) ? config.durationMs(intervalName) : 0;
      w.enabled = enabled && intervalMs > 0;
      const changed = intervalMs !== w.intervalMs;
      w.intervalMs = intervalMs;
      if (!w.enabled) this.close(w);
      else if (changed && w.hits.size > 0) this.schedule(w);
    }
  }

  /** True when the event was absorbed into a window; false when the caller should queue it as is. */
  ingest(event: SecurityEvent): boolean {
    if (event.Category !== 'Triggered' || event.Payload.length === 0) return false;
    const w = this.windows.get(event.Name);
    if (w === undefined || !w.enabled) return false;
    for (const item of event.Payload) this.add(w, event, item);
    return true;
  }

  /** Emits every open window now (flush, close, shutdown). */
  closeAll(): void {
    for (const w of this.windows.values()) this.close(w);
  }

  stats(): AggregatorStats {
    let pendingHits = 0;
    let pendingKeys = 0;
    for (const w of this.windows.values()) {
      pendingHits += w.pendingHits;
      pendingKeys += w.hits.size;
    }
    return { pendingHits, pendingKeys, earlyCloses: this.earlyCloses };
  }

  private add(w: TypeWindow, event: SecurityEvent, item: PayloadItem): void {
    const key = w.rule.key(item);
    const hits = w.hits.get(key);
    if (hits !== undefined) {
      hits.count++;
      w.pendingHits++;
      if (event.TimestampUTC < hits.startUtc) {
        hits.startUtc = event.TimestampUTC;
        hits.startLocal = event.TimestampLocal;
      } else if (event.TimestampUTC >= hits.endUtc) {
        hits.endUtc = event.TimestampUTC;
        hits.endLocal = event.TimestampLocal;
      }
      return;
    }
    if (w.hits.size >= this.maxKeys) {
      this.earlyCloses++;
      this.options.log?.info('aggregation window reached its key limit, closing it early', { type: w.rule.name, keys: w.hits.size });
      this.close(w);
    }
    const t = { startUtc: event.TimestampUTC, startLocal: event.TimestampLocal };
    w.hits.set(key, { count: 1, first: event, item, ...t, endUtc: t.startUtc, endLocal: t.startLocal });
    w.pendingHits++;
    if (w.hits.size === 1) {
      w.openedAt = this.options.clock.now();
      this.schedule(w);
    }
  }

  private schedule(w: TypeWindow): void {
    const { clock } = this.options;
    if (w.timer !== undefined) clock.clearTimeout(w.timer);
    const due = Math.max(0, w.openedAt + w.intervalMs - clock.now());
    w.timer = clock.setTimeout(() => {
      w.timer = undefined;
      this.close(w);
    }, due);
  }

  private close(w: TypeWindow): void {
    if (w.timer !== undefined) {
      this.options.clock.clearTimeout(w.timer);
      w.timer = undefined;
    }
    if (w.hits.size === 0) return;
    const hits = w.hits;
    w.hits = new Map();
    w.pendingHits = 0;
    const now = new Date(this.options.clock.now());
    for (const h of hits.values()) {
      try {
        this.options.emit(this.toEvent(w.rule, h, now));
      } catch (err) {
        this.options.log?.warn('could not emit an aggregated event', { type: w.rule.name, error: err });
      }
    }
  }

  private toEvent(rule: AggregationRule, h: Hits, now: Date): SecurityEvent {
    if (h.count === 1) {
      // A single hit goes out as the original Triggered event (only its own item if it carried several).
      return h.first.Payload.length === 1 ? h.first : { ...h.first, Id: randomUUID(), IsEmpty: false, Payload: [h.item] };
    }
    const item = rule.normalize(h.item);
    item.ExtraDetails = {
      ...item.ExtraDetails,
      StartTimeUtc: h.startUtc,
      EndTimeUtc: h.endUtc,
      StartTimeLocal: h.startLocal,
      EndTimeLocal: h.endLocal,
      HitCount: String(h.count),
    };
    return createEvent(rule.name, 'Aggregated', [item], { eventType: h.first.EventType, payloadSchemaVersion: h.first.PayloadSchemaVersion, now });
  }
}
