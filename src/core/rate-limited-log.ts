import type { LogDetails, Logger } from './logger';

/** A warning callback: (message, details). */
export type Warn = (message: string, details: LogDetails) => void;

export const DEFAULT_WARNING_INTERVAL_MS = 60_000;

/**
 * Logs each distinct key at most once per `intervalMs`, with the count of those held back: garbage in
 * /proc, a full queue or a failing send repeat on every round and must not flood `iotedge logs`.
 * The one rate limiter of the code base.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly log: Pick<Logger, 'warn'>,
    private readonly intervalMs = DEFAULT_WARNING_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message` under `key` unless that key was logged within the interval; true when it was logged. */
  warn(key: string, message: string, details: LogDetails = {}): boolean {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.held++;
      return false;
    }
    this.log.warn(message, entry?.held ? { ...details, heldBackSinceLast: entry.held } : details);
    this.last.set(key, { at: t, held: 0 });
    return true;
  }
}

/** A Warn that rate-limits per distinct message. */
export function rateLimitedWarning(log: Pick<Logger, 'warn'>, intervalMs = DEFAULT_WARNING_INTERVAL_MS, now: () => number = Date.now): Warn {
  const limiter = new RateLimitedLog(log, intervalMs, now);
  return (message, details) => void limiter.warn(message, message, details);
}
