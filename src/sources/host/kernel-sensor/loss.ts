import { RECORD_TYPE_NAMES } from './records';
import type { SensorAddonStats } from './sensor';

/**
 * Loss accounting of the kernel sensor for one source: records of its types the BPF programs could
 * not queue (ring buffer full), plus records JavaScript did not take in time (shared by all types).
 */
export class LossTracker {
  private lastTotal = 0;

  constructor(readonly types: readonly number[]) {}

  /** Total so far, and whether it grew since the previous call. */
  update(total: number): boolean {
    const grew = total > this.lastTotal;
    this.lastTotal = total;
    return grew;
  }
}

export interface LossReport {
  total: number;
  grew: boolean;
  counts: Record<string, number>;
  text: string;
}

export function lossReport(tracker: LossTracker, s: SensorAddonStats): LossReport {
  const counts: Record<string, number> = {};
  let total = 0;
  for (const t of tracker.types) {
    const n = s.kernelDrops[t] ?? 0;
    if (n > 0) counts[`${RECORD_TYPE_NAMES[t]}RecordsLostInKernel`] = n;
    total += n;
  }
  if (s.droppedRecords > 0) counts.recordsDroppedConsumerSlow = s.droppedRecords;
  total += s.droppedRecords;
  const text = Object.entries(counts)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return { total, grew: tracker.update(total), counts, text: total > 0 ? `kernel sensor lost records: ${text}` : '' };
}
