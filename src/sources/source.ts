import type { ConfigView } from '../config/config-view';
import type { SettingDefinition } from '../config/settings';
import type { EmitOptions, SecurityEvent } from '../core/event';
import type { Logger } from '../core/logger';
import type { EventDescriptor } from '../core/event-types';

/** How a source is doing, reported in the twin's status section. */
export interface SourceStatus {
  state: 'running' | 'degraded' | 'failed' | 'disabled';
  /** Why it is not fully running: missing privilege, missing file, unsupported kernel, daemon down… */
  reason?: string;
  /** Which method it uses when there is a choice, e.g. "netlink proc connector" or "/proc polling". */
  method?: string;
}

export type { EmitOptions } from '../core/event';

/** What the pipeline gives a source when it starts it. */
export interface SourceContext {
  readonly config: ConfigView;
  readonly log: Logger;
  /** Where the host's file system is seen: EDGEGUARD_HOST_ROOT, else /host when it exists, else /. */
  readonly hostRoot: string;
  /** A directory of the source's own inside the state directory (created), for cursors and offsets. */
  readonly stateDir: string;
  emit(event: SecurityEvent, options?: EmitOptions): void;
  setStatus(status: SourceStatus): void;
}

/** A started source. */
export interface Source {
  /** Take a snapshot now: called once after start and then every `snapshotFrequency`. */
  snapshot?(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A collector (in Vector's words, a source). It declares the events it emits and its own settings;
 * the pipeline adds `collectorEnabled<name>` (default true), starts it, and restarts it when one of
 * its settings (or snapshotFrequency, for snapshot sources) changes.
 */
export interface SourceDefinition {
  /** PascalCase, unique: ProcessEvents, Connections, ContainerRuntime, DeploymentManifests… */
  readonly name: string;
  readonly description: string;
  /** The event types it emits, each described once (name, category, priority, schema, aggregation key). */
  readonly events: readonly EventDescriptor[];
  readonly settings: readonly SettingDefinition[];
  /** Throw SourceUnavailableError when the source cannot run here; the others keep running. */
  start(ctx: SourceContext): Promise<Source>;
}

/** The source cannot run in this environment; `reason` says why in a way an operator can act on. */
export class SourceUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SourceUnavailableError';
  }
}
