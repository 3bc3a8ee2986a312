import type { Logger } from './logger';
import type { ProcWarning } from '../sources/host/common/process-info';

const WARNING_INTERVAL_MS = 60_000;

/**
 * A ProcWarning that logs each distinct message at most once per `intervalMs`, with the count of
 * those held back: garbage in /proc repeats on every scan and must not flood `iotedge logs`.
 */
export function rateLimitedWarning(log: Logger, intervalMs = WARNING_INTERVAL_MS, now: () => number = Date.now): ProcWarning {
  const last = new Map<string, { at: number; held: number }>();
  return (message, details) => {
    const t = now();
    const entry = last.get(message);
    if (entry && t - entry.at < intervalMs) {
      entry.held++;
      return;
    }
    log.warn(message, entry?.held ? { ...details, heldBackSinceLast: entry.held } : details);
    last.set(message, { at: t, held: 0 });
  };
}
