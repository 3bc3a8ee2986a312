import type { MessagePriority } from './priority';

export type { MessagePriority } from './priority';

/** One finished security message: UTF-8 JSON no larger than `maxMessageSizeInBytes`. */
export interface OutgoingMessage {
  readonly body: string;
  readonly messageId: string;
  readonly priority: MessagePriority;
  readonly eventCount: number;
}

/**
 * Where messages go (in Vector's words, a sink): edgeHub's `securityEvents` output, or stdout when
 * standalone. `send` resolves once the message is accepted (for edgeHub: PUBACK) and rejects when it
 * is not; the pipeline then keeps the events queued and tries again later, so nothing is lost.
 */
export interface Transport {
  readonly name: string;
  send(message: OutgoingMessage): Promise<void>;
}
