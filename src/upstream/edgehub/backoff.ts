export interface BackoffOptions {
  /** First delay, before jitter. */
  readonly initialDelayMs: number;
  /** Upper bound of any delay, jitter included. */
  readonly maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 1000, maxDelayMs: 15000 };

/**
 * Delay before retry number `attempt` (0 for the first retry): exponential, capped, with "equal jitter"
 * (half fixed, half random) so that modules restarted together by edgeAgent do not reconnect in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 0), 30);
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
