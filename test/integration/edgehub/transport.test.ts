import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../src/core/logger';
import type { DesiredProperties } from '../../../src/upstream/upstream';
import { createEdgeHubUpstream, NotConnectedError, type EdgeHubUpstream } from '../../../src/upstream/edgehub';
import type { MessagePriority, OutgoingMessage } from '../../../src/core/transport';
import { EdgeHubStandIn, edgeHubStandInSkipReason, type EdgeHubStandInOptions } from '../../harness/edgehub-standin';
import { useIotEnvironment } from '../../harness/iot-environment';
import { waitUntil } from '../../harness/wait-until';
import { WorkloadStandIn } from '../../harness/workload-standin';

const skip = edgeHubStandInSkipReason();
if (skip) console.error(`SKIP: edgeHub transport tests: ${skip}`);

const FAST_BACKOFF = { initialDelayMs: 200, maxDelayMs: 1000 };
const SETTINGS_KEY = 'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function message(priority: MessagePriority, body: unknown = { AgentId: randomUUID(), Events: [] }): OutgoingMessage {
  return { body: JSON.stringify(body), messageId: randomUUID(), priority, eventCount: 0 };
}

/** Records every desired document the upstream hands out. */
function desiredRecorder(upstream: EdgeHubUpstream): { seen: DesiredProperties[]; latest: () => DesiredProperties | undefined } {
  const seen: DesiredProperties[] = [];
  upstream.onDesired((desired) => seen.push(desired));
  return { seen, latest: () => seen[seen.length - 1] };
}

function settingValue(desired: DesiredProperties | undefined, name: string): unknown {
  const section = desired?.[SETTINGS_KEY] as Record<string, { value?: unknown }> | undefined;
  return section?.[name]?.value;
}

/** An edgeHub stand-in and the dev-pair environment (connection string, CA) pointing at it; both undone after the file. */
async function devPairHub(options?: EdgeHubStandInOptions): Promise<{ hub: EdgeHubStandIn; restore: () => void }> {
  const hub = await EdgeHubStandIn.start(options);
  cleanups.push(() => hub.close());
  const restore = useIotEnvironment(hub.devEnvironment());
  cleanups.push(restore);
  return { hub, restore };
}

async function startedUpstream(): Promise<EdgeHubUpstream> {
  const upstream = createEdgeHubUpstream({ backoff: FAST_BACKOFF, operationTimeoutMs: 5000 });
  cleanups.push(() => upstream.close());
  return upstream;
}

test('dev pair: twin, security message with its properties, reported patch, desired push, direct methods', { skip }, async () => {
  const { hub, restore } = await devPairHub({ desired: { [SETTINGS_KEY]: { maxMessageSizeInBytes: { value: 8192 } } } });
  const upstream = await startedUpstream();
  const desired = desiredRecorder(upstream);
  upstream.onMethod('echo', (payload) => ({ status: 201, payload: { echoed: payload } }));
  upstream.onMethod('broken', () => {
    throw new Error('handler failed');
  });
  await upstream.start();

  await waitUntil(() => desired.seen.length > 0, 10_000, 'desired properties from the twin GET');
  assert.equal(upstream.connectionState(), 'connected');
  assert.equal(settingValue(desired.latest(), 'maxMessageSizeInBytes'), 8192);
  assert.ok(hub.twinGets >= 1);
  assert.deepEqual(hub.connects.map((c) => c.accepted), [true], 'one accepted connection with a valid SAS token');

  const sent = message('High', { AgentId: 'a', Events: [{ Name: 'SystemInformation' }] });
  await upstream.transport.send(sent);
  const received = await hub.waitForOutput((o) => o.messageId === sent.messageId);
  assert.equal(received.output, 'securityEvents');
  assert.equal(received.interfaceId, 'urn:azureiot:Security:SecurityAgent:1');
  assert.equal(received.contentType, 'application/json');
  assert.equal(received.contentEncoding, 'utf-8');
  assert.deepEqual(received.properties, { MessagePriority: 'High' });
  assert.equal(received.body, sent.body);
  await upstream.transport.send(message('Operational'));
  await hub.waitForOutput((o) => o.properties.MessagePriority === 'Operational');

  await upstream.reportProperties({ [SETTINGS_KEY]: { maxMessageSizeInBytes: { value: 8192 } }, status: { state: 'ok' } });
  assert.deepEqual(hub.reportedPatches[hub.reportedPatches.length - 1], {
    [SETTINGS_KEY]: { maxMessageSizeInBytes: { value: 8192 } },
    status: { state: 'ok' },
  });
  await upstream.reportProperties({ status: { state: 'degraded' } });
  assert.deepEqual(hub.reported, { [SETTINGS_KEY]: { maxMessageSizeInBytes: { value: 8192 } }, status: { state: 'degraded' } });

  const before = desired.seen.length;
  await hub.patchDesired({ [SETTINGS_KEY]: { snapshotFrequency: { value: 'PT5M' } } });
  await waitUntil(() => desired.seen.length > before, 5000, 'desired patch');
  const merged = desired.latest();
  assert.equal(settingValue(merged, 'snapshotFrequency'), 'PT5M', 'the patch arrived');
  assert.equal(settingValue(merged, 'maxMessageSizeInBytes'), 8192, 'merged with what the GET gave: the full document, not the patch');

  assert.deepEqual(await hub.invokeMethod('echo', { n: 1 }), { status: 201, payload: { echoed: { n: 1 } } });
  const broken = await hub.invokeMethod('broken', null);
  assert.equal(broken.status, 500);
  assert.deepEqual(broken.payload, { error: 'handler failed' });
  const ping = await hub.invokeMethod('ping', null);
  assert.equal(ping.status, 200);
  assert.equal((ping.payload as { state: string }).state, 'connected');

  await upstream.close();
  await assert.rejects(upstream.transport.send(message('Low')), NotConnectedError);
  restore();
});

test('workload API: trust bundle and SAS signing through the unix socket, then the same protocol', { skip }, async () => {
  const hub = await EdgeHubStandIn.start({ desired: { [SETTINGS_KEY]: { lowPriorityMessageFrequency: { value: 'PT1M' } } } });
  cleanups.push(() => hub.close());
  const workload = await WorkloadStandIn.start({ trustBundle: hub.caPem, moduleKey: hub.sharedAccessKey, moduleId: hub.moduleId });
  cleanups.push(() => workload.close());
  const restore = useIotEnvironment(workload.environment(hub));
  cleanups.push(restore);
  const upstream = await startedUpstream();
  const desired = desiredRecorder(upstream);
  await upstream.start();

  await waitUntil(() => desired.seen.length > 0, 10_000, 'desired properties over the workload-API connection');
  assert.equal(settingValue(desired.latest(), 'lowPriorityMessageFrequency'), 'PT1M');
  assert.ok(workload.requests.some((r) => r.method === 'GET' && r.url.startsWith('/trust-bundle') && r.status === 200), 'trust bundle fetched');
  const sign = workload.requests.find((r) => r.method === 'POST' && r.url.startsWith(`/modules/${hub.moduleId}/genid/${workload.generationId}/sign`));
  assert.ok(sign && sign.status === 200, 'token signed by the workload API');
  assert.equal((JSON.parse(sign.body) as { keyId: string }).keyId, 'primary');
  assert.ok(hub.connects.some((c) => c.accepted), 'the stand-in accepted the workload-signed SAS token');

  const sent = message('Low');
  await upstream.transport.send(sent);
  const received = await hub.waitForOutput((o) => o.messageId === sent.messageId);
  assert.equal(received.interfaceId, 'urn:azureiot:Security:SecurityAgent:1');
  assert.equal(received.properties.MessagePriority, 'Low');
  await upstream.reportProperties({ status: { mode: 'workload' } });
  assert.deepEqual(hub.reported.status, { mode: 'workload' });
  await upstream.close();
  restore();
});

test('a wrong module key is refused by the stand-in and retried without a crash', { skip }, async () => {
  const hub = await EdgeHubStandIn.start();
  cleanups.push(() => hub.close());
  const workload = await WorkloadStandIn.start({ trustBundle: hub.caPem, moduleKey: Buffer.from('not the module key').toString('base64'), moduleId: hub.moduleId });
  cleanups.push(() => workload.close());
  const restore = useIotEnvironment(workload.environment(hub));
  cleanups.push(restore);
  const upstream = await startedUpstream();
  await upstream.start();
  await hub.waitUntil(() => hub.connects.filter((c) => !c.accepted).length >= 2, 10_000, 'two refused connects');
  assert.ok(hub.connects.every((c) => c.reason === undefined || /signature/.test(c.reason)));
  assert.notEqual(upstream.connectionState(), 'connected');
  await assert.rejects(upstream.reportProperties({ x: 1 }), NotConnectedError);
  await upstream.close();
  restore();
});

test('module started before edgeHub: keeps retrying, connects when the broker comes up', { skip }, async () => {
  const { hub, restore } = await devPairHub({ listen: false, desired: { [SETTINGS_KEY]: { snapshotFrequency: { value: 'PT1H' } } } });
  const upstream = await startedUpstream();
  const desired = desiredRecorder(upstream);
  await upstream.start();
  await sleep(2500);
  assert.notEqual(upstream.connectionState(), 'connected');
  assert.equal(desired.seen.length, 0);
  await assert.rejects(upstream.transport.send(message('High')), NotConnectedError);
  await assert.rejects(upstream.reportProperties({ status: { state: 'starting' } }), NotConnectedError);

  await hub.startListener();
  await waitUntil(() => desired.seen.length > 0, 10_000, 'desired properties once edgeHub is up');
  assert.equal(settingValue(desired.latest(), 'snapshotFrequency'), 'PT1H');
  await hub.waitForReported((r) => (r.status as { state?: string } | undefined)?.state === 'starting', 5000);
  const sent = message('High');
  await upstream.transport.send(sent);
  await hub.waitForOutput((o) => o.messageId === sent.messageId);
  await upstream.close();
  restore();
});

test('edgeHub outage: sends reject, reconnect re-fetches the twin (patch made offline seen), queued report delivered', { skip }, async () => {
  const { hub, restore } = await devPairHub({ desired: { [SETTINGS_KEY]: { snapshotFrequency: { value: 'PT1H' } } } });
  const upstream = await startedUpstream();
  const desired = desiredRecorder(upstream);
  await upstream.start();
  await waitUntil(() => desired.seen.length > 0, 10_000, 'first desired');
  const getsBefore = hub.twinGets;

  await hub.stopListener();
  await waitUntil(() => upstream.connectionState() !== 'connected', 5000, 'the upstream to notice the outage');
  await assert.rejects(upstream.transport.send(message('High')), NotConnectedError);
  await assert.rejects(upstream.reportProperties({ status: { offlineSince: 'outage' } }), NotConnectedError);
  hub.patchDesiredSilently({ [SETTINGS_KEY]: { snapshotFrequency: { value: 'PT2M' } } });
  await sleep(4000);
  assert.notEqual(upstream.connectionState(), 'connected');

  const seenBefore = desired.seen.length;
  await hub.startListener();
  await waitUntil(() => desired.seen.length > seenBefore, 10_000, 'desired properties after the reconnect');
  assert.equal(settingValue(desired.latest(), 'snapshotFrequency'), 'PT2M', 'the patch made while offline is seen through the fresh twin GET');
  assert.ok(hub.twinGets > getsBefore);
  await hub.waitForReported((r) => (r.status as { offlineSince?: string } | undefined)?.offlineSince === 'outage', 5000);
  const sent = message('Low');
  await upstream.transport.send(sent);
  await hub.waitForOutput((o) => o.messageId === sent.messageId);

  // A patch edgeHub refuses is not kept for the next connection (it would be refused again).
  hub.refuseReportedPatches = 1;
  await assert.rejects(upstream.reportProperties({ refused: true }), /reported patch refused/);
  await hub.stopListener();
  await waitUntil(() => upstream.connectionState() !== 'connected', 5000, 'second outage');
  await hub.startListener();
  await waitUntil(() => upstream.connectionState() === 'connected', 10_000, 'second reconnect');
  await upstream.reportProperties({ after: true });
  assert.equal(hub.reported.after, true);
  assert.equal(hub.reported.refused, undefined);

  const ping = await hub.invokeMethod('ping', null);
  assert.equal((ping.payload as { reconnects: number }).reconnects, 2, 'direct methods registered again on the new connection');
  await upstream.close();
  restore();
});

test('malformed twin messages from edgeHub are logged and survived: garbage desired patch, garbage twin response', { skip }, async () => {
  const { hub, restore } = await devPairHub({ desired: { [SETTINGS_KEY]: { snapshotFrequency: { value: 'PT1H' } } } });
  hub.corruptTwinResponses = 1;
  const upstream = createEdgeHubUpstream({ backoff: FAST_BACKOFF, operationTimeoutMs: 1500 });
  cleanups.push(() => upstream.close());
  const desired = desiredRecorder(upstream);
  await upstream.start();
  await waitUntil(() => desired.seen.length > 0, 15_000, 'desired properties after a corrupt twin response');
  assert.ok(hub.twinGets >= 2, 'the corrupt GET was retried on a new connection');
  assert.equal(settingValue(desired.latest(), 'snapshotFrequency'), 'PT1H');

  const seen = desired.seen.length;
  await hub.publishRaw(`$iothub/twin/PATCH/properties/desired/?$version=99`, 'not json{');
  await hub.patchDesired({ [SETTINGS_KEY]: { snapshotFrequency: { value: 'PT3M' } } });
  await waitUntil(() => desired.seen.length > seen, 5000, 'the valid patch after the garbage one');
  assert.equal(settingValue(desired.latest(), 'snapshotFrequency'), 'PT3M');
  assert.equal(upstream.connectionState(), 'connected', 'still connected: nothing crashed');
  const sent = message('High');
  await upstream.transport.send(sent);
  await hub.waitForOutput((o) => o.messageId === sent.messageId);
  await upstream.close();
  restore();
});

/** A Logger that keeps every line (message and details) for assertions. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const entry = (level: string) => (message: string, details: Record<string, unknown> = {}) => lines.push(`${level} ${message} ${JSON.stringify(details)}`);
  const log: Logger = { error: entry('error'), warn: entry('warn'), info: entry('info'), debug: entry('debug'), child: () => log };
  return { log, lines };
}

test('a broken environment (CA file missing, workload socket absent) is retried and logged, never fatal, no key logged', { skip }, async () => {
  const hub = await EdgeHubStandIn.start();
  cleanups.push(() => hub.close());
  const environments: Array<Record<string, string>> = [
    { EdgeHubConnectionString: hub.connectionString(), EdgeModuleCACertificateFile: '/nonexistent/edgeguard-ca.pem' },
    {
      IOTEDGE_WORKLOADURI: 'unix:///nonexistent/workload.sock',
      IOTEDGE_DEVICEID: hub.deviceId,
      IOTEDGE_MODULEID: hub.moduleId,
      IOTEDGE_MODULEGENERATIONID: 'g',
      IOTEDGE_IOTHUBHOSTNAME: hub.hubName,
      IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_GATEWAYHOSTNAME: `localhost:${hub.port}`,
    },
  ];
  for (const vars of environments) {
    const restore = useIotEnvironment(vars);
    const { log, lines } = capturingLogger();
    const upstream = createEdgeHubUpstream({ log, backoff: FAST_BACKOFF });
    await upstream.start();
    await waitUntil(() => lines.filter((l) => l.includes('edgeHub not reachable, retrying')).length >= 2, 5000, 'two logged retries');
    assert.notEqual(upstream.connectionState(), 'connected');
    assert.ok(lines.some((l) => /ENOENT/.test(l)), `the cause is logged: ${lines.join('\n')}`);
    assert.ok(!lines.some((l) => l.includes(hub.sharedAccessKey)), 'the key never reaches a log line');
    await assert.rejects(upstream.transport.send(message('High')), NotConnectedError);
    await upstream.close();
    assert.equal(upstream.connectionState(), 'closed');
    restore();
  }
  assert.equal(hub.connects.length, 0);

  // A lasting outage with the same cause: the first five failures are logged, then at most one a minute.
  const restore = useIotEnvironment(environments[0]!);
  const { log, lines } = capturingLogger();
  const upstream = createEdgeHubUpstream({ log, backoff: { initialDelayMs: 50, maxDelayMs: 100 } });
  await upstream.start();
  const retries = (): number => lines.filter((l) => l.includes('edgeHub not reachable, retrying')).length;
  await waitUntil(() => retries() >= 5, 5000, 'five logged retries');
  await sleep(1500);
  assert.equal(retries(), 5, 'about 15 more attempts, none logged');
  await upstream.close();
  restore();
});
