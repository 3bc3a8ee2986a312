/**
 * Where the aggregator keeps its open windows so that a crash loses no key. The pipeline wires it
 * (to the state journal); the aggregator knows nothing of files, and the queues nothing of windows.
 */

/** A hit-count update of one open entry: [id, count, endUtc, endLocal]. */
export type HitUpdate = readonly [seq: number, count: number, endUtc: string, endLocal: string];

/** An open aggregation entry as the aggregator serialised it, with its latest hit update if any. */
export interface PersistedWindow {
  readonly seq: number;
  readonly json: string;
  hits?: HitUpdate;
}

export interface WindowStore {
  /** Records a new aggregation entry; returns its id. */
  open(json: string): number;
  /** Brings hit counts of open entries up to date. */
  hits(updates: readonly HitUpdate[]): void;
  /** The entries were emitted (their events are queued by now). */
  close(ids: readonly number[]): void;
}
