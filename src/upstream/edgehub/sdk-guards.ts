import type { ModuleClient } from 'azure-iot-device';

interface Emitter {
  emit(event: string | symbol, ...args: unknown[]): boolean;
}

function isEmitter(value: unknown): value is Emitter {
  return typeof value === 'object' && value !== null && typeof (value as { emit?: unknown }).emit === 'function';
}

/**
 * The SDK parses incoming twin messages with a bare `JSON.parse` inside a `process.nextTick`, so one
 * malformed desired patch or twin response from edgeHub throws an uncaught exception and ends the
 * process. This wraps the MQTT layer's `emit` so that a listener's throw is reported and dropped (the
 * message is lost; a pending twin request then times out and the connection is rebuilt).
 * It reaches into SDK internals (`_transport._mqtt`, azure-iot-device-mqtt 1.16): when they are not
 * there, nothing is wrapped and false is returned.
 */
export function guardIncomingMessages(client: ModuleClient, onError: (topic: string, err: Error) => void): boolean {
  const transport: unknown = (client as unknown as { _transport?: unknown })._transport;
  const mqttBase: unknown = isEmitter(transport) ? (transport as { _mqtt?: unknown })._mqtt : undefined;
  if (!isEmitter(mqttBase)) return false;
  const emit = mqttBase.emit.bind(mqttBase);
  mqttBase.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (event !== 'message') return emit(event, ...args);
    try {
      return emit(event, ...args);
    } catch (err) {
      onError(String(args[0]), err instanceof Error ? err : new Error(String(err)));
      return true;
    }
  };
  return true;
}
