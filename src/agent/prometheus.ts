import { randomUUID } from 'node:crypto';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { PipelineStats } from '../pipeline/types';
import type { SourceStatus } from '../sources/source';

/** What the agent knows about itself at one moment, for the Prometheus endpoint. */
export interface AgentMetrics {
  readonly pipeline: PipelineStats;
  readonly sources: Readonly<Record<string, SourceStatus>>;
  readonly upstreamConnected: boolean;
  readonly configurationErrors: number;
  /** Alerts sent since start, per rule and severity (the detections stage). */
  readonly alerts?: ReadonlyArray<{ rule: string; severity: string; count: number }>;
}

/**
 * The labels IoT Edge's own modules put on every series (edgeHub, edgeAgent), so that the
 * metrics-collector module ships EdgeGuard's beside theirs and the Azure Monitor workbooks can filter
 * on them: `iothub` (the hub's host name), `edge_device`, `module_name`, and `instance_number` (a new id
 * per process start, telling restarts apart).
 */
export interface IotEdgeLabels {
  iothub: string;
  edge_device: string;
  instance_number: string;
  module_name: string;
}

/** From edgeAgent's IOTEDGE_* variables, else the development connection string, else empty. */
export function iotEdgeLabels(env: NodeJS.ProcessEnv = process.env, instance: string = randomUUID()): IotEdgeLabels {
  const fromConnectionString = (key: string): string => new RegExp(`(?:^|;)${key}=([^;]*)`, 'i').exec(env.EdgeHubConnectionString ?? '')?.[1] ?? '';
  return {
    iothub: env.IOTEDGE_IOTHUBHOSTNAME ?? fromConnectionString('HostName'),
    edge_device: env.IOTEDGE_DEVICEID ?? fromConnectionString('DeviceId'),
    instance_number: instance,
    module_name: env.IOTEDGE_MODULEID ?? (fromConnectionString('ModuleId') || 'edgeguard'),
  };
}

const SOURCE_STATES: readonly SourceStatus['state'][] = ['running', 'degraded', 'failed', 'disabled'];
type Queue = keyof PipelineStats['queued'];

/**
 * EdgeGuard's metrics in a prom-client registry: its own series, read from the agent at each scrape,
 * plus prom-client's default process and Node.js metrics (resident memory, CPU, event-loop lag, GC,
 * handles, heap), every series labelled as IoT Edge modules label theirs. prom-client is loaded here
 * only: an agent without a metrics endpoint does not pay for it.
 */
export class PrometheusMetrics {
  private readonly registry: Registry;

  constructor(collect: () => AgentMetrics, labels: IotEdgeLabels = iotEdgeLabels()) {
    const client = require('prom-client') as typeof import('prom-client');
    const registry = new client.Registry();
    registry.setDefaultLabels({ ...labels });
    client.collectDefaultMetrics({ register: registry });
    this.registry = registry;

    let snapshot: AgentMetrics | undefined;
    /** One read of the agent per scrape, shared by every series of that scrape. */
    const current = (): AgentMetrics => (snapshot ??= collect());
    const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge, m: AgentMetrics) => void): void => {
      new client.Gauge({ name, help, labelNames, registers: [registry], collect(this: Gauge) { this.reset(); read(this, current()); } });
    };
    // Counters mirror totals kept by the pipeline: each scrape adds what grew since the last one.
    const counter = (name: string, help: string, labelNames: string[], read: (m: AgentMetrics) => Array<[Record<string, string>, number]>): void => {
      const last = new Map<string, number>();
      new client.Counter({
        name, help, labelNames, registers: [registry],
        collect(this: Counter) {
          for (const [l, value] of read(current())) {
            const key = JSON.stringify(l);
            const grew = value - (last.get(key) ?? 0);
            if (grew > 0) this.inc(l, grew);
            else if (!last.has(key)) this.inc(l, 0);
            last.set(key, Math.max(value, last.get(key) ?? 0));
          }
        },
      });
    };
    const queues = (m: AgentMetrics): Queue[] => Object.keys(m.pipeline.queued) as Queue[];

    counter('edgeguard_events_ingested_total', 'Raw events handed to the pipeline by the sources.', [], (m) => [[{}, m.pipeline.ingested]]);
    gauge('edgeguard_queue_events', 'Events waiting in each queue.', ['queue'], (g, m) => queues(m).forEach((q) => g.set({ queue: q }, m.pipeline.queued[q].events)));
    gauge('edgeguard_queue_bytes', 'Bytes waiting in each queue.', ['queue'], (g, m) => queues(m).forEach((q) => g.set({ queue: q }, m.pipeline.queued[q].bytes)));
    counter('edgeguard_events_dropped_total', 'Events dropped by the byte budget, per queue.', ['queue'], (m) => queues(m).map((q) => [{ queue: q }, m.pipeline.dropped[q]]));
    counter('edgeguard_messages_sent_total', 'Security messages acknowledged upstream.', [], (m) => [[{}, m.pipeline.sent.messages]]);
    counter('edgeguard_events_sent_total', 'Events inside acknowledged messages.', [], (m) => [[{}, m.pipeline.sent.events]]);
    counter('edgeguard_bytes_sent_total', 'UTF-8 bytes of acknowledged messages.', [], (m) => [[{}, m.pipeline.sent.bytes]]);
    gauge('edgeguard_upstream_connected', '1 when the upstream (edgeHub) connection is up.', [], (g, m) => g.set(m.upstreamConnected ? 1 : 0));
    counter('edgeguard_alerts_total', 'Security alerts raised on the device, per rule and severity.', ['rule', 'severity'], (m) =>
      (m.alerts ?? []).map((a): [Record<string, string>, number] => [{ rule: a.rule, severity: a.severity }, a.count]));
    gauge('edgeguard_configuration_errors', 'Settings currently rejected from the desired properties.', [], (g, m) => g.set(m.configurationErrors));
    gauge('edgeguard_source_state', 'One series per source and state; 1 marks the current state.', ['source', 'state'], (g, m) => {
      for (const [source, status] of Object.entries(m.sources)) for (const state of SOURCE_STATES) g.set({ source, state }, status.state === state ? 1 : 0);
    });
    gauge('edgeguard_journal_persisting', '1 while the queue journal is written to the state directory; 0 when it cannot be (disk full, read-only).', [], (g, m) => {
      if (m.pipeline.persistence) g.set(m.pipeline.persistence.persisting ? 1 : 0);
    });
    counter('edgeguard_journal_unpersisted_records_total', 'Journal records that could not be written (kept in memory and sent, lost on a restart).', [], (m) => (m.pipeline.persistence ? [[{}, m.pipeline.persistence.unpersistedRecords]] : []));
    this.reset = () => (snapshot = undefined);
  }

  private readonly reset: () => void;

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition format (0.0.4) that IoT Edge's metrics-collector scrapes. */
  async render(): Promise<string> {
    this.reset();
    try {
      return await this.registry.metrics();
    } finally {
      this.reset();
    }
  }
}
