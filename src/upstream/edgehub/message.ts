import { Message } from 'azure-iot-device';
import type { OutgoingMessage } from '../../core/transport';

/** The output edgeHub routes to `$upstream` (see deployment.template.json). */
export const SECURITY_OUTPUT = 'securityEvents';

/** A finished security message as the SDK sends it: security marker, JSON/UTF-8, message id, priority property. */
export function toSdkMessage(message: OutgoingMessage): Message {
  const sdkMessage = new Message(message.body);
  sdkMessage.messageId = message.messageId;
  sdkMessage.contentType = 'application/json';
  sdkMessage.contentEncoding = 'utf-8';
  sdkMessage.setAsSecurityMessage();
  sdkMessage.properties.add('MessagePriority', message.priority);
  return sdkMessage;
}
