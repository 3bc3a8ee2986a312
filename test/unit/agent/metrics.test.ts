import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { PipelineStats } from '../../../src/pipeline/types';
import { MetricsServer, parseListenAddress, renderMetrics, type AgentMetrics } from '../../../src/agent/metrics';

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

test('renders the Prometheus text format with one series per queue, source and state', () => {
  const text = renderMetrics(metrics, { rssBytes: 1000, cpuSeconds: 1.5 });
  assert.match(text, /^# HELP edgeguard_events_ingested_total .+\n# TYPE edgeguard_events_ingested_total counter\nedgeguard_events_ingested_total 123$/m);
  assert.match(text, /^edgeguard_queue_bytes\{queue="Low"\} 2000$/m);
  assert.match(text, /^edgeguard_events_dropped_total\{queue="Low"\} 3$/m);
  assert.match(text, /^edgeguard_source_state\{source="ProcessEvents",state="running"\} 1$/m);
  assert.match(text, /^edgeguard_source_state\{source="ProcessEvents",state="failed"\} 0$/m);
  assert.match(text, /^edgeguard_source_state\{source="Odd\\"Name",state="failed"\} 1$/m, 'label values are escaped');
  assert.match(text, /^edgeguard_process_cpu_seconds_total 1.5$/m);
  assert.ok(text.endsWith('\n'));
  for (const line of text.trimEnd().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{.*\})? -?[\d.e+]+)$/, line);
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
  });
  const { port } = await live.listen(`127.0.0.1:${await freePort()}`);
  try {
    const first = await get(port, '/metrics');
    assert.equal(first.status, 200);
    assert.match(first.type ?? '', /^text\/plain; version=0.0.4/);
    assert.match(first.body, /^edgeguard_events_ingested_total 1$/m);
    ingested = 7;
    assert.match((await get(port, '/metrics')).body, /^edgeguard_events_ingested_total 7$/m);
    assert.equal((await get(port, '/other')).status, 404);
    fail = true;
    const broken = await get(port, '/metrics');
    assert.equal(broken.status, 500);
    assert.doesNotMatch(broken.body, /boom/, 'the 500 answer does not echo the internal error');
  } finally {
    await live.close();
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
