/** One event waiting in a queue, kept as the exact JSON it will be sent as. */
export interface QueuedEvent {
  readonly seq: number;
  readonly json: string;
  /** UTF-8 byte length of `json`. */
  readonly bytes: number;
}
