import type { ConfigProblem } from '../config/config-store';
import { CONFIG_KEY, type SettingValue } from '../config/settings';
import type { Logger } from '../core/logger';
import type { PipelineStats } from '../pipeline/types';
import { diffPatch, type JsonObject } from '../core/json-merge-patch';
import type { ReportedSourceStatus } from './source-manager';

const MAX_UNKNOWN_REPORTED = 20;

/** Reported-properties key of the agent's status section (beside CONFIG_KEY). */
export const STATUS_KEY = 'edgeguard_status';

export interface AgentIdentity {
  readonly version: string;
  readonly mode: 'edgeHub' | 'standalone';
  readonly agentId: string;
  readonly startedAt: string;
  readonly hostRoot: string;
}

/** Where the reported document's parts come from, read at each report. */
export interface ReportInputs {
  readonly identity: AgentIdentity;
  configuration(): Record<string, { value: SettingValue }>;
  problems(): ConfigProblem[];
  unknownSettings(): string[];
  sources(): Record<string, ReportedSourceStatus>;
  pipelineStats(): PipelineStats | undefined;
  /** The detections stage's state (rules loaded, a rules-file problem, baseline learning), when there is one. */
  detections?(): JsonObject;
  /** The state directory at start: writable, lock, agent id (state-guard.ts). */
  stateDirectory?(): JsonObject;
}

export interface PropertyReporterOptions {
  /** Waits this long after a change so a burst of changes makes one patch. Default 1 s. */
  debounceMs?: number;
  /** Re-checks the document this often (no network unless something changed, e.g. a new send error). Default 30 s. */
  refreshMs?: number;
  /** First retry delay after a failed patch; doubles up to 60 s. Default 2 s. */
  retryMs?: number;
  log?: Logger;
}

/** The status section: identity, sources, configuration problems, pipeline figures, last send error. */
export function statusSection(inputs: ReportInputs): JsonObject {
  const errors: JsonObject = {};
  for (const p of inputs.problems()) {
    // One entry per setting; a second problem of the same setting (e.g. TypeMismatch and NotOptimal) gets its own key.
    const key = p.setting in errors ? `${p.setting}:${p.errorType}` : p.setting;
    errors[key] = { errorType: p.errorType, usedConfiguration: p.usedConfiguration, message: p.message };
  }
  const unknown: JsonObject = {};
  // Bounded: reported properties are limited to 32 KB, and the names come from whoever edits the twin.
  // (Twin keys may not contain '$', '.' or spaces, hence `_more`.)
  const names = inputs.unknownSettings();
  for (const name of names.slice(0, MAX_UNKNOWN_REPORTED)) unknown[name] = 'ignored: not an EdgeGuard setting';
  if (names.length > MAX_UNKNOWN_REPORTED) unknown._more = `${names.length - MAX_UNKNOWN_REPORTED} more not listed`;
  const stats = inputs.pipelineStats();
  const section: JsonObject = {
    version: inputs.identity.version,
    mode: inputs.identity.mode,
    agentId: inputs.identity.agentId,
    startedAt: inputs.identity.startedAt,
    hostRoot: inputs.identity.hostRoot,
    sources: inputs.sources(),
    configurationErrors: errors,
    unknownSettings: unknown,
  };
  if (stats) {
    const queued = Object.values(stats.queued);
    section.pipeline = {
      ingestedEvents: stats.ingested,
      queuedEvents: queued.reduce((n, q) => n + q.events, 0),
      queuedBytes: queued.reduce((n, q) => n + q.bytes, 0),
      droppedEvents: Object.values(stats.dropped).reduce((n, d) => n + d, 0),
      sentMessages: stats.sent.messages,
      sentEvents: stats.sent.events,
      sentBytes: stats.sent.bytes,
    };
    section.lastSendError = stats.lastSendError ?? '';
    if (stats.persistence) {
      // persisting/lastError change rarely (a report is due); the count changes all the time (in pipeline).
      section.stateDirectory = { persisting: stats.persistence.persisting, lastError: stats.persistence.lastError, ...inputs.stateDirectory?.() };
      (section.pipeline as JsonObject).unpersistedEvents = stats.persistence.unpersistedRecords;
    }
  }
  const detections = inputs.detections?.();
  if (detections) section.detections = detections;
  return section;
}

/** The full reported document: effective configuration (wrapped) and the status section. */
export function reportedDocument(inputs: ReportInputs): JsonObject {
  return { [CONFIG_KEY]: inputs.configuration(), [STATUS_KEY]: statusSection(inputs) };
}

/** The document without the figures that change all the time: a report is due only when this changes. */
function significant(doc: JsonObject): string {
  // The pipeline figures left out by the replacer: no copy of the document for it.
  return JSON.stringify(doc, function (this: unknown, key: string, value: unknown) {
    return key === 'pipeline' && this === doc[STATUS_KEY] ? undefined : value;
  });
}

/**
 * Reports the document on change only: debounced, one patch in flight, retried with backoff when
 * the upstream refuses it. Sends only what changed (null for what is gone: twin patches merge).
 */
export class PropertyReporter {
  private lastSent?: JsonObject;
  /** significant(lastSent), kept: the refresh compares against it every 30 s. */
  private lastSentSignificant = '';
  private debounceTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private retryDelay: number;
  private closed = false;
  private readonly debounceMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly report: (patch: Record<string, unknown>) => Promise<void>,
    private readonly inputs: ReportInputs,
    private readonly options: PropertyReporterOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 1000;
    this.retryMs = options.retryMs ?? 2000;
    this.retryDelay = this.retryMs;
  }

  start(): void {
    this.refreshTimer = setInterval(() => this.schedule(), this.options.refreshMs ?? 30_000);
    this.refreshTimer.unref?.();
    this.schedule();
  }

  /** Something may have changed: report within the debounce delay if it did. */
  schedule(): void {
    if (this.closed || this.debounceTimer || this.retryTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.flush();
    }, this.debounceMs);
    this.debounceTimer.unref?.();
  }

  /** Reports now if the document changed since the last acknowledged report. */
  async flush(): Promise<void> {
    if (this.inFlight) {
      await this.inFlight;
      return this.flush();
    }
    const fresh = reportedDocument(this.inputs);
    const text = significant(fresh);
    // Nothing but the pipeline figures changed: no report (they go with the next one), and no copy made.
    if (this.lastSent && text === this.lastSentSignificant) return;
    // A deep copy: the inputs may hand out live objects that change after this report.
    const doc = JSON.parse(JSON.stringify(fresh)) as JsonObject;
    this.inFlight = this.send(doc, text).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async send(doc: JsonObject, docSignificant: string): Promise<void> {
    try {
      if (!this.lastSent) {
        // First report of this process: clear what an earlier run left (twin patches only merge).
        await this.report({ [CONFIG_KEY]: null, [STATUS_KEY]: null });
        await this.report(doc);
      } else {
        const patch = diffPatch(this.lastSent, doc);
        if (patch) await this.report(patch);
      }
      this.lastSent = doc;
      this.lastSentSignificant = docSignificant;
      this.retryDelay = this.retryMs;
      this.options.log?.debug('reported properties updated');
    } catch (error) {
      if (this.closed) return;
      this.options.log?.warn('reported properties not accepted; will retry', { error: error instanceof Error ? error.message : String(error), retryInMs: this.retryDelay });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.flush();
      }, this.retryDelay);
      this.retryTimer.unref?.();
      this.retryDelay = Math.min(this.retryDelay * 2, 60_000);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of [this.debounceTimer, this.retryTimer]) if (t) clearTimeout(t);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
  }
}
