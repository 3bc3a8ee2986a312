import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { PipelineStats } from '../../../src/pipeline/types';
import { MetricsServer, parseListenAddress, type AgentMetrics } from '../../../src/agent/metrics';
import { iotEdgeLabels, PrometheusMetrics, type IotEdgeLabels } from '../../../src/agent/prometheus';
import { freePort } from '../../harness/free-port';

const stats: PipelineStats = {
  queued: { High: { events: 2, bytes: 900 }, Low: { events: 5, bytes: 2000 }, Operational: { events: 0, bytes: 0 } },
  dropped: { High: 0, Low: 3, Operational: 0 },
  sent: { messages: 4, events: 40, bytes: 12_000 },
  ingested: 123,
};
const metrics: AgentMetrics = {
  pipeline: stats,
  sources: { ProcessEvents: { state: 'running', method: 'netlink proc connector' }, 'Odd"Name': { state: 'failed', reason: 'x' } },
  upstreamConnected: true,
  configurationErrors: 1,
};

const LABELS: IotEdgeLabels = { iothub: 'hub.azure-devices.net', edge_device: 'gw-1', instance_number: 'b3c0e9f2-0000-4000-8000-000000000001', module_name: 'edgeguard' };
const L = 'edge_device="gw-1",instance_number="b3c0e9f2-0000-4000-8000-000000000001",iothub="hub.azure-devices.net",module_name="edgeguard"';

/** Series lines of one metric, labels sorted, IoT Edge labels folded into `L`. */
function series(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => {
    const m = /^(\w+)(?:\{(.*)\})? (.+)$/.exec(l)!;
    const labels = (m[2] ?? '').match(/\w+="(?:[^"\\]|\\.)*"/g) ?? [];
    const own = labels.filter((x) => !/^(iothub|edge_device|instance_number|module_name)=/.test(x)).sort();
    const iot = labels.filter((x) => /^(iothub|edge_device|instance_number|module_name)=/.test(x)).sort().join(',');
    return `${m[1]}{${[...own, iot === L ? 'L' : iot].join(',')}} ${m[3]}`;
  });
}

test('prom-client registry: EdgeGuard series and default process metrics, every series with the IoT Edge labels', async () => {
  let ingested = 123;
  const prom = new PrometheusMetrics(() => ({ ...metrics, pipeline: { ...stats, ingested } }), LABELS);
  const text = await prom.render();
  assert.match(text, /^# TYPE edgeguard_events_ingested_total counter$/m);
  assert.deepEqual(series(text, 'edgeguard_events_ingested_total'), ['edgeguard_events_ingested_total{L} 123']);
  assert.ok(series(text, 'edgeguard_queue_bytes').includes('edgeguard_queue_bytes{queue="Low",L} 2000'));
  assert.ok(series(text, 'edgeguard_events_dropped_total').includes('edgeguard_events_dropped_total{queue="Low",L} 3'));
  assert.ok(series(text, 'edgeguard_source_state').includes('edgeguard_source_state{source="ProcessEvents",state="running",L} 1'));
  assert.ok(series(text, 'edgeguard_source_state').includes('edgeguard_source_state{source="ProcessEvents",state="failed",L} 0'));
  assert.ok(series(text, 'edgeguard_source_state').includes('edgeguard_source_state{source="Odd\\"Name",state="failed",L} 1'), 'label values are escaped');
  for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_active_handles_total', 'nodejs_heap_size_used_bytes']) {
    assert.equal(series(text, name).length, 1, `${name} present once`);
    assert.match(series(text, name)[0]!, /\{L\} /, `${name} labelled like IoT Edge modules`);
  }
  for (const line of text.trimEnd().split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /iothub="hub\.azure-devices\.net"/, `every series carries the IoT Edge labels: ${line}`);
  }
  // Counters follow the pipeline's totals from scrape to scrape.
  ingested = 130;
  assert.deepEqual(series(await prom.render(), 'edgeguard_events_ingested_total'), ['edgeguard_events_ingested_total{L} 130']);
});

test('edgeguard_alerts_total: one series per rule and severity, following the detections stage from scrape to scrape', async () => {
  let count = 2;
  const prom = new PrometheusMetrics(() => ({ ...metrics, alerts: [{ rule: 'EG-PROC-001', severity: 'High', count }, { rule: 'EG-NET-002', severity: 'Low', count: 1 }] }), LABELS);
  assert.deepEqual(series(await prom.render(), 'edgeguard_alerts_total').sort(), [
    'edgeguard_alerts_total{rule="EG-NET-002",severity="Low",L} 1',
    'edgeguard_alerts_total{rule="EG-PROC-001",severity="High",L} 2',
  ]);
  count = 5;
  assert.ok(series(await prom.render(), 'edgeguard_alerts_total').includes('edgeguard_alerts_total{rule="EG-PROC-001",severity="High",L} 5'));
});

test('IoT Edge labels from edgeAgent variables, else the development connection string; a new instance per start', () => {
  assert.deepEqual(iotEdgeLabels({ IOTEDGE_IOTHUBHOSTNAME: 'h.azure-devices.net', IOTEDGE_DEVICEID: 'd1', IOTEDGE_MODULEID: 'sec' }, 'i1'), { iothub: 'h.azure-devices.net', edge_device: 'd1', instance_number: 'i1', module_name: 'sec' });
  assert.deepEqual(iotEdgeLabels({ EdgeHubConnectionString: 'HostName=x.net;GatewayHostName=localhost:1;DeviceId=dev;ModuleId=m;SharedAccessKey=c2VjcmV0' }, 'i2'), { iothub: 'x.net', edge_device: 'dev', instance_number: 'i2', module_name: 'm' });
  assert.notEqual(iotEdgeLabels({}).instance_number, iotEdgeLabels({}).instance_number);
  assert.equal(iotEdgeLabels({}).module_name, 'edgeguard');
});

test('listen addresses: port, :port, host:port, [v6]:port; anything else is a clear error', () => {
  // Issue 11 item 11: a bare port is loopback only; every interface must be asked for.
  assert.deepEqual(parseListenAddress('9600'), { host: '127.0.0.1', port: 9600 });
  assert.deepEqual(parseListenAddress(':9600'), { host: '127.0.0.1', port: 9600 });
  assert.deepEqual(parseListenAddress('0.0.0.0:9600'), { host: '0.0.0.0', port: 9600 });
  assert.deepEqual(parseListenAddress('[::]:9600'), { host: '::', port: 9600 });
  assert.throws(() => parseListenAddress('a'.repeat(100_000) + ':9600'), /not host:port/);
  assert.deepEqual(parseListenAddress('127.0.0.1:9601'), { host: '127.0.0.1', port: 9601 });
  assert.deepEqual(parseListenAddress('[::1]:9602'), { host: '::1', port: 9602 });
  assert.throws(() => parseListenAddress('nine'), /not host:port/);
  assert.throws(() => parseListenAddress('70000'), /not host:port/);
});

function get(port: number, path: string): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      })
      .on('error', reject);
  });
}

test('serves GET /metrics on loopback with live figures, 404 elsewhere, 500 when collecting fails', async () => {
  let ingested = 1;
  let fail = false;
  const live = new MetricsServer(() => {
    if (fail) throw new Error('boom');
    return { ...metrics, pipeline: { ...stats, ingested } };
  }, undefined, LABELS);
  const { port } = await live.listen(`127.0.0.1:${await freePort()}`);
  try {
    const first = await get(port, '/metrics');
    assert.equal(first.status, 200);
    assert.match(first.type ?? '', /^text\/plain; version=0.0.4/);
    assert.deepEqual(series(first.body, 'edgeguard_events_ingested_total'), ['edgeguard_events_ingested_total{L} 1']);
    ingested = 7;
    assert.deepEqual(series((await get(port, '/metrics')).body, 'edgeguard_events_ingested_total'), ['edgeguard_events_ingested_total{L} 7']);
    assert.equal((await get(port, '/other')).status, 404);
    fail = true;
    const broken = await get(port, '/metrics');
    assert.equal(broken.status, 500);
    assert.doesNotMatch(broken.body, /boom/, 'the 500 answer does not echo the internal error');
  } finally {
    await live.close();
  }
});
