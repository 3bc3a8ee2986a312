import { escapeJsonOutput } from '../core/text-escape';
import type { OutgoingMessage, Transport } from '../core/transport';

/**
 * Standalone sink: each message body as one JSON line on stdout (logs go to stderr). `send` resolves
 * once the line has been handed to the OS, and rejects when the stream reports an error.
 */
export class StdoutTransport implements Transport {
  readonly name = 'stdout';

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  send(message: OutgoingMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        // Same JSON value; DEL, C1 and bidi characters from input (command lines, names) written as
        // \u escapes so the terminal showing `edgeguard run` does not act on them.
        this.stream.write(`${escapeJsonOutput(message.body)}\n`, (err) => (err ? reject(err) : resolve()));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }
}
