import { isIP } from 'node:net';

/** One authentication outcome read from an sshd syslog line. */
export interface SshdLogin {
  kind: 'accepted' | 'failed' | 'invalid-user' | 'closed-invalid-user';
  /** password, publickey, keyboard-interactive/pam, none… ('' for invalid-user lines). */
  method: string;
  user: string;
  invalidUser: boolean;
  /** An IP address, or the host name when sshd logs names (UseDNS yes). */
  remote: string;
  port?: number;
  pid: number;
  program: string;
  /** The line's own timestamp text (RFC 3339 or the traditional "Nov 23 10:00:00"). */
  time: string;
  hostName: string;
  /** rsyslog's "message repeated N times: [ … ]" (RepeatedMsgReduction, on by default on Ubuntu): N, else 1. */
  repeated: number;
}

// Traditional "Nov  3 10:00:00 host" or RFC 3339 "2026-11-23T10:00:00.123456+00:00 host".
const PREFIX = /^(\w{3} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) (\S+) (sshd(?:-session|-auth)?)\[(\d+)\]: (.*)$/;

const REPEATED = /^message repeated (\d+) times: \[ ?(.*?)\]\s*$/;
const ACCEPTED = /^Accepted (\S+) for (.+?) from (\S+) port (\d+)(?: |$)/;
const FAILED = /^Failed (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: |$)/;
const INVALID = /^Invalid user (.*?) from (\S+)(?: port (\d+))?\s*$/;
const CLOSED_INVALID = /^(?:Connection closed by|Disconnected from) invalid user (.*?) (\S+) port (\d+)(?: \[preauth\])?\s*$/;

/** Parses one syslog line; undefined for anything that is not an sshd authentication outcome. */
export function parseSshdLine(line: string): SshdLogin | undefined {
  // Most auth.log lines are not sshd's: skip them before the regular expressions.
  if (!line.includes(' sshd')) return undefined;
  const prefix = PREFIX.exec(line);
  if (!prefix) return undefined;
  const [, time, hostName, program, pidText, whole] = prefix as unknown as [string, string, string, string, string, string];
  const repeat = REPEATED.exec(whole);
  const message = repeat ? repeat[2]! : whole;
  const base = { pid: Number(pidText), program, time, hostName, repeated: repeat ? Number(repeat[1]) : 1 };
  let m: RegExpExecArray | null;
  if ((m = ACCEPTED.exec(message))) {
    return { ...base, kind: 'accepted', method: m[1]!, user: m[2]!, invalidUser: false, remote: m[3]!, port: Number(m[4]) };
  }
  if ((m = FAILED.exec(message))) {
    return { ...base, kind: 'failed', method: m[1]!, user: m[3]!, invalidUser: m[2] !== undefined, remote: m[4]!, port: Number(m[5]) };
  }
  if ((m = INVALID.exec(message))) {
    return { ...base, kind: 'invalid-user', method: '', user: m[1]!, invalidUser: true, remote: m[2]!, port: m[3] ? Number(m[3]) : undefined };
  }
  if ((m = CLOSED_INVALID.exec(message))) {
    return { ...base, kind: 'closed-invalid-user', method: '', user: m[1]!, invalidUser: true, remote: m[2]!, port: Number(m[3]) };
  }
  return undefined;
}

export function isIpAddress(text: string): boolean {
  return isIP(text) !== 0;
}
