export class OperationTimeoutError extends Error {
  constructor(operation: string, timeoutMs: number) {
    super(`${operation} timed out after ${timeoutMs} ms`);
    this.name = 'OperationTimeoutError';
  }
}

/**
 * Runs a callback-style SDK call as a promise that settles exactly once: on the callback, on a synchronous
 * throw, or after `timeoutMs`. A callback arriving after the timeout is swallowed, never thrown.
 */
export function callWithTimeout<T>(operation: string, timeoutMs: number, call: (done: (err?: Error | null, result?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new OperationTimeoutError(operation, timeoutMs));
    }, timeoutMs);
    const done = (err?: Error | null, result?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(result as T);
    };
    try {
      call(done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/** A promise-returning SDK call bounded by `timeoutMs`; a late rejection is observed so it cannot go unhandled. */
export function promiseWithTimeout<T>(operation: string, timeoutMs: number, start: () => Promise<T>): Promise<T> {
  return callWithTimeout<T>(operation, timeoutMs, (done) => {
    start().then(
      (result) => done(null, result),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  });
}

/**
 * Combines two twin patches into one: objects merge, and `null` stays a value (it deletes the property
 * when the combined patch is applied). Not `mergePatch` of reported-document.ts, which applies a patch.
 */
export function combinePatches(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) combinePatches(current, value);
    else target[key] = isPlainObject(value) ? combinePatches({}, value) : value;
  }
  return target;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
