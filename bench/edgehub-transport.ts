import { randomUUID } from 'node:crypto';
import { ModuleClient } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import type { Logger } from '../src/core/logger';
import { createEdgeHubUpstream, toSdkMessage, type EdgeHubUpstream } from '../src/upstream/edgehub';
import type { OutgoingMessage } from '../src/core/transport';
import { EdgeHubStandIn, edgeHubStandInSkipReason } from '../test/harness/edgehub-standin';
import { useIotEnvironment } from '../test/harness/iot-environment';

/**
 * edgeHub transport cost, real SDK over TLS MQTT to the in-process stand-in on loopback:
 *  (a) acknowledged messages/s, one at a time as the pipeline sends them, through EdgeGuard's upstream
 *      vs the bare SDK `sendOutputEvent` in the same run (the ratio is the wrappers' overhead);
 *  (b) time from edgeHub coming back to the upstream being connected again (twin fetched), default
 *      backoff, after outages of 2 s and 6 s.
 * The broker runs in the same process, so absolute figures include its work too.
 */

const MESSAGES = 1000;
const ROUNDS = 5;
const BODY_BYTES = 4000;
const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, child: () => quiet };

function outgoing(): OutgoingMessage {
  return { body: JSON.stringify({ pad: 'x'.repeat(BODY_BYTES) }), messageId: randomUUID(), priority: 'Low', eventCount: 1 };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function throughputViaUpstream(upstream: EdgeHubUpstream): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) await upstream.transport.send(outgoing());
  return MESSAGES / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function throughputBareSdk(): Promise<number> {
  const client = await ModuleClient.fromEnvironment(Mqtt);
  client.on('error', () => undefined);
  await client.open();
  const start = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) await client.sendOutputEvent('securityEvents', toSdkMessage(outgoing()));
  const rate = MESSAGES / (Number(process.hrtime.bigint() - start) / 1e9);
  await client.close();
  return rate;
}

async function reconnectAfter(hub: EdgeHubStandIn, upstream: EdgeHubUpstream, outageMs: number): Promise<number> {
  await hub.stopListener();
  await until(() => upstream.connectionState() !== 'connected', 5000);
  await new Promise((resolve) => setTimeout(resolve, outageMs));
  await hub.startListener();
  const back = Date.now();
  await until(() => upstream.connectionState() === 'connected', 30_000);
  return Date.now() - back;
}

async function throughputViaNewUpstream(): Promise<number> {
  const upstream = createEdgeHubUpstream({ log: quiet });
  try {
    await upstream.start();
    await until(() => upstream.connectionState() === 'connected', 15_000);
    return await throughputViaUpstream(upstream);
  } finally {
    await upstream.close();
  }
}

export async function run(): Promise<void> {
  const skip = edgeHubStandInSkipReason();
  if (skip) {
    console.error(`SKIP: edgeHub transport bench: ${skip}`);
    return;
  }
  const hub = await EdgeHubStandIn.start();
  const restore = useIotEnvironment(hub.devEnvironment());
  try {
    // One client at a time (the same client id takes the MQTT session over); rounds alternate the two
    // paths and the best round of each counts, so JIT warm-up does not favour the later one.
    const bare: number[] = [];
    const ours: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      bare.push(await throughputBareSdk());
      ours.push(await throughputViaNewUpstream());
    }
    const bestBare = Math.max(...bare);
    const bestOurs = Math.max(...ours);
    console.log(`edgeHub transport: ${MESSAGES} acknowledged ${BODY_BYTES}-byte messages, one at a time, best of ${ROUNDS} alternating rounds`);
    console.log(`  bare SDK sendOutputEvent : ${bestBare.toFixed(0)} messages/s (rounds: ${bare.map((r) => r.toFixed(0)).join(', ')})`);
    console.log(`  EdgeGuard upstream       : ${bestOurs.toFixed(0)} messages/s (rounds: ${ours.map((r) => r.toFixed(0)).join(', ')}; ${(bestOurs / bestBare).toFixed(2)}x the bare SDK)`);
    const upstream = createEdgeHubUpstream({ log: quiet });
    try {
      await upstream.start();
      await until(() => upstream.connectionState() === 'connected', 15_000);
      for (const outageMs of [2000, 6000]) {
        const ms = await reconnectAfter(hub, upstream, outageMs);
        console.log(`  reconnected ${ms} ms after edgeHub came back from a ${outageMs / 1000} s outage (default backoff: 1 s doubling to 15 s, jittered)`);
      }
    } finally {
      await upstream.close();
    }
  } finally {
    restore();
    await hub.close();
  }
}

if (require.main === module) void run();
