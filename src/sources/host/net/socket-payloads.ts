import type { PayloadItem } from '../../../core/event';
import type { Direction } from './connection-tracker';
import type { SocketOwner } from './socket-owners';
import { tcpStateName, TcpState, type SocketEntry } from './socket-table';

/** Command lines in ListeningPorts ExtraDetails are cut here: a snapshot lists every listener, and messages are billed by size. */
export const LISTENER_COMMAND_LINE_LIMIT = 256;

function executableOf(owner: SocketOwner): string {
  return owner.executable ?? (owner.comm ? `[${owner.comm}]` : '');
}

/**
 * ConnectionCreate payload item with exactly the fields of messageEventSecurityConnectionCreate_v1_0.json.
 * Ports are strings, as the schema types them. UserId is the socket's owner from the kernel table, so it
 * is known even when the process is not; an unknown process is ProcessId -1 and Executable "", named in
 * ExtraDetails.MissingFields (the convention of the process payloads).
 */
export function connectionCreatePayload(entry: SocketEntry, direction: Direction, owner: SocketOwner | undefined): PayloadItem {
  const item: PayloadItem = {
    RemoteAddress: entry.remoteAddress,
    RemotePort: String(entry.remotePort),
    LocalAddress: entry.localAddress,
    LocalPort: String(entry.localPort),
    Direction: direction,
    Protocol: entry.protocol,
    ProcessId: owner?.pid ?? -1,
    UserId: String(entry.uid),
    Executable: owner ? executableOf(owner) : '',
  };
  const extra: Record<string, string> = {};
  if (owner) {
    if (owner.commandLine !== '') item.CommandLine = owner.commandLine;
    else extra.MissingFields = 'CommandLine';
    if (owner.executable === undefined) extra.MissingFields = ['Executable', extra.MissingFields].filter(Boolean).join(',');
  } else {
    extra.MissingFields = 'ProcessId,Executable,CommandLine';
  }
  if (entry.state !== TcpState.ESTABLISHED) extra.TcpState = tcpStateName(entry.state);
  if (Object.keys(extra).length > 0) item.ExtraDetails = extra;
  return item;
}

/**
 * ListeningPorts payload item (messageEventSecurityListeningPorts_v1_0.json): LocalAddress, LocalPort,
 * Protocol; the owning process goes in ExtraDetails (the schema has no fields for it).
 */
export function listeningPortPayload(entry: SocketEntry, owner: SocketOwner | undefined): PayloadItem {
  const item: PayloadItem = { LocalAddress: entry.localAddress, LocalPort: String(entry.localPort), Protocol: entry.protocol };
  const extra: Record<string, string> = { UserId: String(entry.uid) };
  if (owner) {
    extra.ProcessId = String(owner.pid);
    extra.Executable = executableOf(owner);
    if (owner.commandLine.length > LISTENER_COMMAND_LINE_LIMIT) {
      extra.CommandLine = owner.commandLine.slice(0, LISTENER_COMMAND_LINE_LIMIT);
      extra.CommandLineTruncated = 'true';
    } else if (owner.commandLine !== '') {
      extra.CommandLine = owner.commandLine;
    }
  } else {
    extra.MissingFields = 'ProcessId,Executable,CommandLine';
  }
  item.ExtraDetails = extra;
  return item;
}
