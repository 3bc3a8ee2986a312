import { close, read } from 'node:fs';
import { promisify } from 'node:util';
import { describeReadError, openRegularFile } from '../../core/safe-read';

const readAsync = promisify(read);
const closeAsync = promisify(close);

/** A clear, one-line reason why an export file (or a part of it) cannot be read. */
export class ExportReadError extends Error {
  constructor(
    message: string,
    /** Byte offset in the file where the problem was found, when known. */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'ExportReadError';
  }
}

const CHUNK = 256 * 1024;

/**
 * Sequential reads from a regular file, buffering no more than the caller asks for. Opened by the
 * project's safe reader (src/core/safe-read: O_NONBLOCK, fstat on the descriptor), so a FIFO or device
 * given by mistake (or by an attacker) is refused instead of blocking the reader; symlink loops and
 * missing files come back as ExportReadError.
 */
export class FileSource {
  private buffer = Buffer.alloc(0);
  private start = 0;
  private eof = false;
  /** File offset of buffer[start]. */
  private offset = 0;

  private constructor(private readonly fd: number) {}

  static async open(file: string): Promise<FileSource> {
    try {
      return new FileSource(openRegularFile(file).fd);
    } catch (error) {
      throw new ExportReadError(describeReadError(error));
    }
  }

  /** Bytes read so far that the caller has consumed. */
  get position(): number {
    return this.offset;
  }

  get available(): number {
    return this.buffer.length - this.start;
  }

  /** Buffers until at least `n` bytes are available or the file ends; returns what is available. */
  async fill(n: number): Promise<number> {
    while (this.available < n && !this.eof) {
      if (this.start > 0) {
        this.buffer = this.buffer.subarray(this.start);
        this.start = 0;
      }
      const want = Math.max(CHUNK, n - this.available);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await readAsync(this.fd, chunk, 0, want, null);
      if (bytesRead === 0) this.eof = true;
      else this.buffer = this.buffer.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([this.buffer, chunk.subarray(0, bytesRead)]);
    }
    return this.available;
  }

  /** The buffered bytes from the current position (valid until the next fill/consume). */
  view(): Buffer {
    return this.buffer.subarray(this.start);
  }

  consume(n: number): void {
    this.start += n;
    this.offset += n;
  }

  get ended(): boolean {
    return this.eof && this.available === 0;
  }

  async close(): Promise<void> {
    await closeAsync(this.fd);
  }
}
