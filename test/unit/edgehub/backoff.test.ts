import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, detectEdgeHubEndpoint } from '../../../src/upstream/edgehub';
import { callWithTimeout, combinePatches, OperationTimeoutError } from '../../../src/upstream/edgehub/promises';

test('backoff doubles from the initial delay, is capped, and jitters within the upper half', () => {
  const options = { initialDelayMs: 1000, maxDelayMs: 15000 };
  assert.equal(backoffDelay(0, options, () => 0), 500);
  assert.equal(backoffDelay(0, options, () => 1), 1000);
  assert.equal(backoffDelay(3, options, () => 1), 8000);
  assert.equal(backoffDelay(4, options, () => 1), 15000, 'capped');
  assert.equal(backoffDelay(1000, options, () => 0), 7500, 'huge attempt numbers stay capped');
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, options);
    assert.ok(d >= 2000 && d <= 4000, `jittered delay ${d} within [2000, 4000]`);
  }
});

test('endpoint detection: connection string wins, workload set must be complete, never exposes the key', () => {
  const cs = 'HostName=hub.azure-devices.net;GatewayHostName=localhost:8883;DeviceId=d1;ModuleId=edgeguard;SharedAccessKey=c2VjcmV0';
  const dev = detectEdgeHubEndpoint({ EdgeHubConnectionString: cs, IOTEDGE_WORKLOADURI: 'unix:///x' });
  assert.deepEqual(dev, { mode: 'connectionString', host: 'localhost:8883', deviceId: 'd1', moduleId: 'edgeguard' });
  assert.ok(!JSON.stringify(dev).includes('c2VjcmV0'));
  const workload = {
    IOTEDGE_WORKLOADURI: 'unix:///var/run/iotedge/workload.sock',
    IOTEDGE_DEVICEID: 'd1',
    IOTEDGE_MODULEID: 'edgeguard',
    IOTEDGE_MODULEGENERATIONID: 'g',
    IOTEDGE_IOTHUBHOSTNAME: 'hub.azure-devices.net',
    IOTEDGE_AUTHSCHEME: 'sasToken',
  };
  assert.equal(detectEdgeHubEndpoint(workload)?.host, 'hub.azure-devices.net');
  assert.equal(detectEdgeHubEndpoint({ ...workload, IOTEDGE_GATEWAYHOSTNAME: 'edgehub' })?.host, 'edgehub');
  assert.equal(detectEdgeHubEndpoint({ ...workload, IOTEDGE_MODULEGENERATIONID: '' }), undefined);
  assert.equal(detectEdgeHubEndpoint({}), undefined);
});

test('pending reported patches merge deeply and keep nulls (a null deletes a twin property)', () => {
  const pending = combinePatches({}, { a: { x: 1, y: 2 }, s: 'old' });
  combinePatches(pending, { a: { y: null }, s: 'new', b: [1, 2] });
  assert.deepEqual(pending, { a: { x: 1, y: null }, s: 'new', b: [1, 2] });
});

test('callWithTimeout settles once: callback, synchronous throw, or timeout; a late callback is ignored', async () => {
  assert.equal(await callWithTimeout<number>('ok', 1000, (done) => setImmediate(() => done(null, 7))), 7);
  await assert.rejects(callWithTimeout('throws', 1000, () => {
    throw new Error('sync');
  }), /sync/);
  let late: ((err?: Error | null) => void) | undefined;
  await assert.rejects(callWithTimeout('slow', 20, (done) => {
    late = done;
  }), OperationTimeoutError);
  assert.doesNotThrow(() => late?.(new Error('too late')));
});
