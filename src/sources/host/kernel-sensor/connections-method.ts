import { createEvent } from '../../../core/event';
import { defineEventType } from '../../../core/event-types';
import type { SourceContext, SourceStatus } from '../../source';
import { isLoopbackAddress } from '../net/ip-address';
import { sensorEnrichment } from './context';
import { lossReport, LossTracker } from './loss';
import { connectionFromNet, portListenFromNet } from './payloads';
import { RecordType, type NetRecord } from './records';
import { subscribeKernelSensor, type SensorAddonStats } from './sensor';
import { sensorSettings } from './settings';

export const EBPF_CONNECTIONS_METHOD = 'eBPF kernel sensor (connect, accept, listen, bind tracepoints)';
export const PORT_LISTEN_EVENT = 'PortListen';
/** Bind and listen as they happen (ListeningPorts is a periodic snapshot in Microsoft's schema). */
export const PORT_LISTEN = defineEventType({ name: PORT_LISTEN_EVENT, category: 'Triggered', defaultPriority: 'Low', schema: 'own' });
const STATUS_CHECK_MS = 10_000;

export interface EbpfConnections {
  stats(): { connections: number; listens: number; sensor?: SensorAddonStats };
  stop(): Promise<void>;
}

function isLoopback(rec: NetRecord): boolean {
  return isLoopbackAddress(rec.remoteAddress) && isLoopbackAddress(rec.localAddress);
}

/**
 * Connections through the kernel sensor: each TCP connect and accept as the syscall returns (so a
 * connection of a millisecond is not missed), with the process that made it; listen and bind as
 * PortListen events. Throws when the sensor cannot load; the caller falls back to polling.
 */
export function startEbpfConnections(ctx: SourceContext, procRoot: string): EbpfConnections {
  const enrich = sensorEnrichment(procRoot, ctx.hostRoot);
  const includeLoopback = ctx.config.boolean('connectionsIncludeLoopback');
  let connections = 0;
  let listens = 0;
  // Exec records too: they name the owner of a connection even when it is gone before the record is read.
  const sub = subscribeKernelSensor(sensorSettings(ctx.config), { network: true, process: true }, (records) => {
    for (const rec of records) {
      enrich.learn(rec);
      if (rec.type !== 'connect' && rec.type !== 'accept' && rec.type !== 'listen' && rec.type !== 'bind') continue;
      try {
        if (rec.type === 'connect' || rec.type === 'accept') {
          // A connect refused at once (ECONNREFUSED, ENETUNREACH…) is reported too: scans start that way.
          if (!includeLoopback && isLoopback(rec)) continue;
          connections++;
          ctx.emit(createEvent('ConnectionCreate', 'Triggered', [connectionFromNet(rec, enrich)]));
        } else {
          listens++;
          ctx.emit(createEvent(PORT_LISTEN_EVENT, 'Triggered', [portListenFromNet(rec, enrich)]));
        }
      } catch (err) {
        ctx.log.error('kernel sensor network record could not be handled', { pid: rec.pid, error: err });
      }
    }
  });

  const loss = new LossTracker([RecordType.Connect, RecordType.Accept, RecordType.Listen, RecordType.Bind]);
  let last = '';
  const check = (): void => {
    try {
      const s = sub.stats();
      const report = s ? lossReport(loss, s) : undefined;
      if (report?.grew) ctx.log.warn('kernel sensor lost network records', { ...report.counts });
      const lost = sub.lost();
      const status: SourceStatus = lost
        ? { state: 'failed', method: EBPF_CONNECTIONS_METHOD, reason: lost }
        : report?.total
        ? { state: 'degraded', method: EBPF_CONNECTIONS_METHOD, reason: `${report.text} since start (raise kernelSensorRingBufferBytes)` }
        : { state: 'running', method: EBPF_CONNECTIONS_METHOD };
      const key = JSON.stringify(status);
      if (key !== last) ctx.setStatus(status);
      last = key;
    } catch (err) {
      ctx.log.error('kernel sensor status check failed', { error: err });
    }
  };
  check();
  const timer = setInterval(check, STATUS_CHECK_MS);
  timer.unref();
  return {
    stats: () => ({ connections, listens, sensor: sub.stats() }),
    async stop() {
      clearInterval(timer);
      sub.close();
    },
  };
}
