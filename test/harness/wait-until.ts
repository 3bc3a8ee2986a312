/**
 * Resolves once `condition` holds, checking it every `pollMs`; rejects after `timeoutMs`, naming `what`
 * (a function is called then, for a message that shows the state at the time).
 */
export async function waitUntil(condition: () => boolean, timeoutMs = 3000, what: string | (() => string) = 'a condition', pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
