import type { PayloadItem } from '../../../core/event';
import { isIpAddress, type SshdLogin } from './sshd-log';
import { UT_TYPES, type UtmpRecord } from './utmp';

export const SSHD_EXECUTABLE = '/usr/sbin/sshd';

/** The Login payload item of an sshd line; `userName` is the name to send (possibly redacted). */
export function sshdLoginItem(source: string, login: SshdLogin, userName: string): PayloadItem {
  const item: PayloadItem = {
    ProcessId: login.pid,
    UserName: userName,
    Operation: login.kind === 'accepted' || login.kind === 'failed' ? `sshd:${login.method}` : 'sshd:invalid-user',
    Executable: SSHD_EXECUTABLE,
    Result: login.kind === 'accepted' ? 'Success' : 'Fail',
  };
  const extra: Record<string, string> = { Source: source, LogTime: login.time };
  if (login.program !== 'sshd') extra.Program = login.program;
  if (isIpAddress(login.remote)) item.RemoteAddress = login.remote;
  else extra.RemoteHost = login.remote;
  if (login.port !== undefined) item.RemotePort = String(login.port);
  if (login.invalidUser) extra.InvalidUser = 'true';
  if (login.repeated > 1) extra.Repeated = String(login.repeated);
  item.ExtraDetails = extra;
  return item;
}

/** wtmp: user logins (not logouts, boots, run levels); btmp: every failed attempt. */
export function isLoginRecord(success: boolean, record: UtmpRecord): boolean {
  return record.type === UT_TYPES.USER_PROCESS || (!success && record.type === UT_TYPES.LOGIN_PROCESS);
}

/** What the terminal name tells of the program that handled a login: sshd's "ssh:notty" or a remote pts → sshd, a tty → login. */
export function inferredExecutable(record: UtmpRecord): string {
  if (record.line.startsWith('ssh') || (record.line.startsWith('pts/') && record.host !== '')) return SSHD_EXECUTABLE;
  if (/^(tty|console)/.test(record.line)) return '/bin/login';
  return '';
}

/** The Login payload item of a wtmp (success) or btmp (failure) record. */
export function utmpLoginItem(source: string, success: boolean, record: UtmpRecord, userName: string, executable: { path: string; inferred: boolean }): PayloadItem {
  const extra: Record<string, string> = { Source: source, Terminal: record.line, LoginTime: record.time.toISOString() };
  if (executable.inferred) extra.ExecutableInferred = 'true';
  const item: PayloadItem = {
    ProcessId: record.pid,
    UserName: userName,
    Operation: success ? 'wtmp:login' : 'btmp:failed-login',
    Executable: executable.path,
    Result: success ? 'Success' : 'Fail',
  };
  const address = record.address && isIpAddress(record.address) ? record.address : isIpAddress(record.host) ? record.host : undefined;
  if (address) item.RemoteAddress = address;
  if (record.host && record.host !== address) extra.RemoteHost = record.host;
  item.ExtraDetails = extra;
  return item;
}
