import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which source a piece of code runs for. Every callback a source schedules (timers, I/O, promises,
 * event emitters) inherits the scope of the call that created it, so an exception that escapes to
 * the process ('uncaughtException', 'unhandledRejection') can still be charged to its source.
 */
export interface SourceScope {
  readonly source: string;
  /** Marks the source failed, stops it and schedules its restart with backoff. */
  crashed(error: unknown): void;
}

const storage = new AsyncLocalStorage<SourceScope>();

export function runInSourceScope<T>(scope: SourceScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** Runs `fn` outside any source scope (for the runtime's own timers created while handling a source). */
export function outsideSourceScope<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** The scope of the code that is running now (in a process error handler: of the code that threw). */
export function currentSourceScope(): SourceScope | undefined {
  return storage.getStore();
}

/** Backoff before restarting a source after its n-th crash in a row: 1 s, 2 s, 4 s … at most 5 min. */
export function crashBackoffMs(crashes: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, Math.min(crashes - 1, 20)));
}
