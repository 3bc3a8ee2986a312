import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { disableMqttNumberCache } from '../../../src/upstream/edgehub/mqtt-memory';

test("the SDK's mqtt-packet writes packets without its 65,536-buffer number cache, bytes unchanged", async () => {
  const fromMqtt = createRequire(createRequire(require.resolve('azure-iot-mqtt-base')).resolve('mqtt'));
  const packet = fromMqtt('mqtt-packet') as { writeToStream: ((p: object, s: PassThrough) => boolean) & { cacheNumbers: boolean }; generate(p: object): Buffer };
  const numbers = fromMqtt('mqtt-packet/numbers') as { cache: Record<number, Buffer> };
  assert.equal(disableMqttNumberCache(), true);
  const publish = { cmd: 'publish', topic: 'devices/d/modules/m/messages/events/', payload: Buffer.from('{}'), qos: 1, messageId: 4242, retain: false, dup: false };
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  packet.writeToStream(publish, out);
  await new Promise((resolve) => setImmediate(resolve)); // the writer uncorks on the next tick
  assert.equal(Object.keys(numbers.cache).length, 0, 'no number cache was built');
  assert.deepEqual(Buffer.concat(chunks), packet.generate(publish), 'the same bytes as generate()');
});
