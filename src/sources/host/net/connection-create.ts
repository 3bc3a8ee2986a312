import { detailsKey, KEY_SEPARATOR as SEP, keyText as text, withDetails } from '../../../core/aggregation-key';
import type { PayloadItem } from '../../../core/event';
import { defineEventType } from '../../../core/event-types';

/** Direction "In"/"Out" as the schema spells it; "Inbound" from a lenient source counts as In. */
function isInbound(direction: unknown): boolean {
  return typeof direction === 'string' && direction.startsWith('In');
}

/**
 * A new TCP connection. Inbound connections are keyed by the local (service) port, outbound ones by
 * the remote port; the other port is ephemeral. RemotePort is required by the schema, so an inbound
 * aggregate carries "0"; LocalPort is optional, so an outbound aggregate leaves it out.
 */
/** ExtraDetails that are part of the key; the container context is not. */
const KEY_DETAILS = ['MissingFields', 'Result'];

export const CONNECTION_CREATE = defineEventType({
  name: 'ConnectionCreate',
  category: 'Triggered',
  defaultPriority: 'Low',
  schema: 'official',
  aggregation: {
    key: (i) => {
      const port = isInbound(i.Direction) ? `L${text(i.LocalPort)}` : `R${text(i.RemotePort)}`;
      return `${text(i.Executable)}${SEP}${text(i.CommandLine)}${SEP}${text(i.UserId)}${SEP}${text(i.Direction)}${SEP}${text(i.LocalAddress)}${SEP}${text(i.RemoteAddress)}${SEP}${text(i.Protocol)}${SEP}${port}${detailsKey(i.ExtraDetails, KEY_DETAILS)}`;
    },
    keyDetails: KEY_DETAILS,
    normalize: (i) => {
      const inbound = isInbound(i.Direction);
      const item: PayloadItem = {};
      if (i.LocalAddress !== undefined) item.LocalAddress = i.LocalAddress;
      if (inbound && i.LocalPort !== undefined) item.LocalPort = i.LocalPort;
      item.RemoteAddress = i.RemoteAddress;
      item.RemotePort = inbound ? '0' : i.RemotePort;
      item.Direction = i.Direction;
      item.Protocol = i.Protocol;
      item.ProcessId = 0;
      if (i.UserId !== undefined) item.UserId = i.UserId;
      item.Executable = i.Executable;
      if (i.CommandLine !== undefined) item.CommandLine = i.CommandLine;
      return withDetails(item, i);
    },
  },
});
