import type { Transport } from '../core/transport';

export type DesiredProperties = Record<string, unknown>;

/**
 * The agent's link to the cloud: edgeHub (module twin + securityEvents output) or, standalone, a local
 * configuration file and stdout. The runtime sees only this.
 */
export interface Upstream {
  readonly mode: 'edgeHub' | 'standalone';
  readonly transport: Transport;
  /**
   * Called with the FULL desired properties whenever they are known or change: after the first connect,
   * after every reconnect (a fresh twin GET), and after each desired patch (merged). Never with a partial patch.
   */
  onDesired(listener: (desired: DesiredProperties) => void): void;
  /** Called after every (re)connect, once messages can be sent again (standalone: once, at start). */
  onConnected(listener: () => void): void;
  /** True while messages can be sent (for the metrics endpoint). */
  isConnected(): boolean;
  /** Registers a direct method (edgeHub only; standalone has none). */
  onMethod?(name: string, handler: (payload: unknown) => { status: number; payload?: unknown } | Promise<{ status: number; payload?: unknown }>): void;
  /** Patches reported properties; resolves when acknowledged, rejects otherwise; never throws synchronously. */
  reportProperties(patch: Record<string, unknown>): Promise<void>;
  /** Starts connecting in the background (retrying with backoff); resolves at once. */
  start(): Promise<void>;
  close(): Promise<void>;
}
