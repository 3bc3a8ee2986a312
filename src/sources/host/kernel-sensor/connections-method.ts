import { createEvent } from '../../../core/event';
import { defineEventType } from '../../../core/event-types';
import type { SourceContext } from '../../source';
import { isLoopbackAddress } from '../net/ip-address';
import { sensorEnrichment } from './context';
import { sensorStatusCheck } from './health-status';
import { connectionFromNet, portListenFromNet } from './payloads';
import { RecordType, type NetRecord } from './records';
import { subscribeKernelSensor, type SensorAddonStats } from './sensor';
import { sensorSettings } from './settings';

export const EBPF_CONNECTIONS_METHOD = 'eBPF kernel sensor (connect, accept, listen, bind tracepoints)';
export const PORT_LISTEN_EVENT = 'PortListen';
/** Bind and listen as they happen (ListeningPorts is a periodic snapshot in Microsoft's schema). */
export const PORT_LISTEN = defineEventType({ name: PORT_LISTEN_EVENT, category: 'Triggered', defaultPriority: 'Low', schema: 'own' });

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
  }, sensorStatusCheck(ctx, { method: EBPF_CONNECTIONS_METHOD, types: [RecordType.Connect, RecordType.Accept, RecordType.Listen, RecordType.Bind], records: 'network', advice: 'raise kernelSensorRingBufferBytes' }));

  return {
    stats: () => ({ connections, listens, sensor: sub.stats() }),
    async stop() {
      sub.close();
    },
  };
}
