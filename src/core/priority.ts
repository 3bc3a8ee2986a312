/** An event type's priority setting (`eventPriority<Name>`): Off drops its events, Low and High pick the queue. */
export type Priority = 'Off' | 'Low' | 'High';

export const PRIORITIES: readonly Priority[] = ['Off', 'Low', 'High'];

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}

/** Which queue a message was built for; sent upstream as the `MessagePriority` property. */
export type MessagePriority = 'High' | 'Low' | 'Operational';

export const QUEUE_NAMES: readonly MessagePriority[] = ['High', 'Low', 'Operational'];
