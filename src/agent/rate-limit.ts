/**
 * A token bucket: `burst` calls at once, then one more every `refillMs`. For direct methods anyone with
 * the service connection string can call in a loop (`snapshot` reads the whole host each time).
 */
export class RateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** 0 when the call may go ahead (a token is taken), else the milliseconds until one is available. */
  take(): number {
    const t = this.now();
    // A clock stepped back refills nothing (and does not make the bucket owe time).
    const elapsed = Math.max(0, t - this.last);
    this.tokens = Math.min(this.burst, this.tokens + elapsed / this.refillMs);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) * this.refillMs);
  }
}

/** The `snapshot` direct method: 3 calls at once, then one every 20 s. */
export const SNAPSHOT_METHOD_BURST = 3;
export const SNAPSHOT_METHOD_REFILL_MS = 20_000;
