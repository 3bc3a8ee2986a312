/** What the splitter reports about input it had to drop. */
export interface NdjsonProblem {
  kind: 'line-too-long';
  /** Bytes dropped (the whole line when it ended, else what was seen before the stream ended). */
  bytes: number;
}

/**
 * Splits a byte stream of newline-delimited records into lines, whatever the chunk boundaries
 * (a record may span many chunks, a chunk may hold many records, a multi-byte UTF-8 character
 * may be cut in two). A line longer than `maxLineBytes` is dropped whole and reported once, so a
 * hostile or broken peer cannot make the reader buffer without bound. Empty lines are skipped.
 */
export class NdjsonSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside an over-long line: drop everything up to the next newline. */
  private discarding = false;
  private discarded = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onProblem: (problem: NdjsonProblem) => void,
    private readonly maxLineBytes = 1024 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (;;) {
      const nl = data.indexOf(0x0a);
      if (nl < 0) {
        this.keep(data);
        return;
      }
      this.keep(data.subarray(0, nl));
      this.finishLine();
      data = data.subarray(nl + 1);
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    this.finishLine();
  }

  /** Forget a partial line (the connection it came from is gone). */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
    this.discarded = 0;
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    if (this.discarding) {
      this.discarded += part.length;
      return;
    }
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.discarding = true;
      this.discarded = this.pendingBytes + part.length;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    // Copy: the caller may reuse the chunk's memory once push returns.
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private finishLine(): void {
    if (this.discarding) {
      const bytes = this.discarded;
      this.reset();
      this.onProblem({ kind: 'line-too-long', bytes });
      return;
    }
    if (this.pendingBytes === 0) return;
    const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    if (line.trim() !== '') this.onLine(line);
  }
}
