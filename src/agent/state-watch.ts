/** How often the state directory's health is compared with the last report. */
export const STATE_WATCH_MS = 1_000;

/** What the status reports about the state directory that is worth a report of its own. */
export interface StateHealth {
  writable: boolean;
  lock: string;
  agentId: string;
  persisting: boolean;
}

/**
 * Calls `changed` when the state directory's health changes (full, read-only, taken over, the journal
 * persisting again), so the status says so within a second or two rather than at the reporter's
 * 30 s refresh. Returns the stop function.
 */
export function watchStateHealth(health: () => StateHealth, changed: () => void, everyMs = STATE_WATCH_MS): () => void {
  const key = (): string => {
    const h = health();
    return `${h.writable}|${h.lock}|${h.agentId}|${h.persisting}`;
  };
  let last = key();
  const timer = setInterval(() => {
    const now = key();
    if (now === last) return;
    last = now;
    changed();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
