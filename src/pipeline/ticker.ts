import type { Clock } from '../core/clock';

/** A periodic timer on the pipeline's clock whose period can change without losing its phase. */
export class Ticker {
  private handle: unknown;
  private last = 0;
  private periodMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  start(periodMs: number): void {
    this.last = this.clock.now();
    this.periodMs = periodMs;
    this.arm();
  }

  /** A new period counts from the previous tick: due at once when that moment has already passed. */
  setPeriod(periodMs: number): void {
    if (periodMs === this.periodMs) return;
    this.periodMs = periodMs;
    if (this.handle !== undefined) this.arm();
  }

  stop(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(): void {
    this.stop();
    // Clamped to one period: a wall clock set backwards must not postpone sends.
    const due = Math.min(this.periodMs, Math.max(0, this.last + this.periodMs - this.clock.now()));
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.last = this.clock.now();
      this.arm();
      this.fire();
    }, due);
  }
}
