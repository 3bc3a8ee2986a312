/** An error's message (first line) for a log line or a status reason; anything else as text. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0]!;
  const e = error as { message?: unknown; code?: unknown } | null | undefined;
  if (e && typeof e === 'object') {
    if (typeof e.message === 'string') return e.message.split('\n')[0]!;
    if (typeof e.code === 'string') return e.code;
  }
  return String(error);
}

/** A file-system error's code (ENOENT, EACCES…) when it has one, else its message: for findings and statuses. */
export function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null | undefined)?.code;
  return typeof code === 'string' ? code : errorText(error);
}
