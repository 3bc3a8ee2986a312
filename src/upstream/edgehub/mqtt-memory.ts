import { createRequire } from 'node:module';

/**
 * The MQTT client under azure-iot-device-mqtt (mqtt 4, mqtt-packet 6) fills a cache of 65,536 two-byte
 * Buffers (every 16-bit number, for packet ids and lengths) the first time it writes a packet: ~7.5 MB of
 * heap held for ever, a tenth of the module's memory budget, to save allocating two bytes per packet.
 * Turned off here, before the first connection; mqtt-packet then writes numbers with a fresh 2-byte buffer.
 * Returns false when the package layout is not the expected one (nothing is changed then).
 */
export function disableMqttNumberCache(): boolean {
  try {
    const fromBase = createRequire(require.resolve('azure-iot-mqtt-base'));
    const fromMqtt = createRequire(fromBase.resolve('mqtt'));
    const packet = fromMqtt('mqtt-packet') as { writeToStream?: { cacheNumbers?: boolean } };
    if (!packet.writeToStream || typeof packet.writeToStream.cacheNumbers !== 'boolean') return false;
    packet.writeToStream.cacheNumbers = false;
    return packet.writeToStream.cacheNumbers === false;
  } catch {
    return false;
  }
}
