import type { Stats } from 'node:fs';
import path from 'node:path';
import { parsePasswdEntries, parseShadowEntries } from '../accounts/account-files';
import type { CheckOutcome } from './check-types';
import { DOCKER_DAEMON_JSON, readDockerDaemonConfig } from './docker-config';
import type { HostView } from './host-view';

/** The evaluators behind the check table (checks.ts): each looks at the host through a HostView. */

export const pass = (detail: string): CheckOutcome => ({ result: 'Pass', detail });
export const fail = (detail: string): CheckOutcome => ({ result: 'Fail', detail });
export const err = (detail: string): CheckOutcome => ({ result: 'Err', detail });

function list(items: readonly string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

function modeText(st: Stats): string {
  return `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')} owner ${st.uid}:${st.gid}`;
}

// ---- sshd ----

export function sshdSetting(keyword: string, sshdDefault: string, judge: (value: string) => boolean, what: string): (host: HostView) => CheckOutcome {
  return (host) => {
    const config = host.sshdConfig();
    if (!config.present) return pass('no /etc/ssh/sshd_config: OpenSSH server not installed');
    const set = config.values.get(keyword.toLowerCase());
    const value = (set ?? sshdDefault).toLowerCase();
    const where = set === undefined ? `not set (sshd default ${sshdDefault})` : `${keyword} ${set}`;
    return judge(value) ? pass(where) : fail(`${where}: ${what}`);
  };
}

// ---- files ----

interface ModeRule {
  /** Permission bits that must not be set. */
  forbidden: number;
  /** Allowed owners (uid). */
  owners?: readonly number[];
}

export function fileModeCheck(file: string, rule: ModeRule, whenMissing: CheckOutcome): (host: HostView) => CheckOutcome {
  return (host) => {
    const st = host.stat(file);
    if (!st) return whenMissing;
    const problems: string[] = [];
    if (st.mode & rule.forbidden) problems.push(`permissions allow ${(st.mode & rule.forbidden).toString(8).padStart(4, '0')}`);
    if (rule.owners && !rule.owners.includes(st.uid)) problems.push(`owned by uid ${st.uid}`);
    return problems.length ? fail(`${file}: ${modeText(st)}, ${problems.join(', ')}`) : pass(`${file}: ${modeText(st)}`);
  };
}

export function sudoersCheck(host: HostView): CheckOutcome {
  const files = ['/etc/sudoers', ...host.list('/etc/sudoers.d').map((n) => `/etc/sudoers.d/${n}`)];
  if (!host.stat('/etc/sudoers')) return pass('no /etc/sudoers: sudo not installed');
  const bad: string[] = [];
  for (const file of files) {
    const st = host.lstat(file);
    if (!st || st.isDirectory()) continue;
    if (st.uid !== 0 || st.mode & 0o022 || st.mode & 0o007) bad.push(`${file} (${modeText(st)})`);
  }
  return bad.length ? fail(`writable by non-root or readable by others: ${list(bad)}`) : pass(`${files.length} file(s) root-owned, not writable by group or others`);
}

// ---- accounts ----

export function emptyPasswords(host: HostView): CheckOutcome {
  const passwdText = host.readText('/etc/passwd');
  if (passwdText === undefined) return err('/etc/passwd not found');
  const passwd = parsePasswdEntries(passwdText).entries;
  const shadowText = host.readText('/etc/shadow');
  if (shadowText === undefined) return err('/etc/shadow not found');
  const shadow = parseShadowEntries(shadowText).entries;
  const inShadow = new Set(shadow.map((s) => s.name));
  const empty = [
    ...shadow.filter((s) => s.password === 'empty').map((s) => s.name),
    ...passwd.filter((p) => p.emptyPasswordField && !inShadow.has(p.name)).map((p) => p.name),
  ];
  return empty.length ? fail(`accounts without a password: ${list(empty)}`) : pass(`${shadow.length} shadow entries, none with an empty password`);
}

export function extraUidZero(host: HostView): CheckOutcome {
  const text = host.readText('/etc/passwd');
  if (text === undefined) return err('/etc/passwd not found');
  const extra = parsePasswdEntries(text).entries.filter((e) => e.uid === 0 && e.name !== 'root').map((e) => e.name);
  return extra.length ? fail(`accounts with uid 0 besides root: ${list(extra)}`) : pass('only root has uid 0');
}

// ---- Docker ----

export function dockerTcpWithoutTls(host: HostView): CheckOutcome {
  const docker = readDockerDaemonConfig(host);
  if (!docker.installed) return pass('Docker/moby engine not installed');
  if (docker.daemonJsonError) return err(`${DOCKER_DAEMON_JSON} unparsable: ${docker.daemonJsonError}`);
  const tcp = docker.hosts.filter((h) => /^tcp:\/\//i.test(h) || /^[\d.]*:\d+$/.test(h));
  if (tcp.length === 0) return pass(`no TCP listener configured (hosts: ${docker.hosts.length ? list(docker.hosts) : 'default unix socket'})`);
  if (docker.tlsVerify) return pass(`TCP listener(s) ${list(tcp)} with tlsverify`);
  return fail(`dockerd listens on ${list(tcp)} ${docker.tls ? 'with TLS but without client certificate verification (tlsverify)' : 'without TLS'}; sources: ${list([DOCKER_DAEMON_JSON, ...docker.units])}`);
}

/** The rule of `iotedge check` "production readiness: logs policy" (container-engine-logrotate). */
export function dockerLogRotation(host: HostView): CheckOutcome {
  const docker = readDockerDaemonConfig(host);
  if (!docker.installed) return pass('Docker/moby engine not installed');
  if (docker.daemonJsonError) return err(`${DOCKER_DAEMON_JSON} unparsable: ${docker.daemonJsonError}`);
  if (!docker.daemonJson) return fail(`${DOCKER_DAEMON_JSON} not found: no log-driver and log-opts`);
  const driver = docker.daemonJson['log-driver'];
  const opts = docker.daemonJson['log-opts'];
  const o = typeof opts === 'object' && opts !== null ? (opts as Record<string, unknown>) : undefined;
  const missing = [driver === undefined ? 'log-driver' : '', o?.['max-size'] === undefined ? 'log-opts.max-size' : '', o?.['max-file'] === undefined ? 'log-opts.max-file' : ''].filter(Boolean);
  return missing.length ? fail(`${DOCKER_DAEMON_JSON} lacks ${missing.join(', ')}`) : pass(`log-driver ${String(driver)}, max-size ${String(o?.['max-size'])}, max-file ${String(o?.['max-file'])}`);
}

// ---- IoT Edge ----

const AZIOT_DIRS = ['/etc/aziot', '/var/lib/aziot/keyd/keys', '/var/lib/aziot/certd/certs'];

export function aziotReadableByOthers(host: HostView): CheckOutcome {
  if (!host.exists('/etc/aziot')) return pass('no /etc/aziot: IoT Edge 1.2+ not installed');
  const readable: string[] = [];
  let examined = 0;
  const walk = (dir: string, depth: number): void => {
    for (const name of host.list(dir)) {
      const file = path.posix.join(dir, name);
      const st = host.lstat(file);
      if (!st || st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (depth < 4) walk(file, depth + 1);
        continue;
      }
      examined++;
      // Certificates are public; configuration and keys are not.
      if (st.isFile() && st.mode & 0o004 && !/\.(pem|crt|cer)$/i.test(name) && !file.startsWith('/var/lib/aziot/certd/')) readable.push(file);
    }
  };
  for (const dir of AZIOT_DIRS) walk(dir, 0);
  return readable.length ? fail(`readable by all users: ${list(readable)}`) : pass(`${examined} file(s) under ${AZIOT_DIRS.join(', ')} not readable by others`);
}

// ---- kernel parameters ----

export function sysctlCheck(names: readonly string[], ok: (value: string) => boolean, expected: string, whenMissing?: CheckOutcome): (host: HostView) => CheckOutcome {
  return (host) => {
    const found: string[] = [];
    const bad: string[] = [];
    // /proc/sys/net shows the reader's network namespace, not the host's, without network: host.
    if (names.some((n) => n.startsWith('net.')) && host.inHostNetworkNamespace() === false) {
      return err('EdgeGuard is not in the host network namespace (network: host): net.* parameters not visible');
    }
    for (const name of names) {
      const value = host.sysctl(name);
      if (value === undefined) return whenMissing ?? err(`${name} not present in this kernel`);
      found.push(`${name}=${value}`);
      if (!ok(value)) bad.push(`${name}=${value}`);
    }
    return bad.length ? fail(`${list(bad)} (expected ${expected})`) : pass(found.join(', '));
  };
}

export const atLeast = (min: number) => (v: string) => /^\d+$/.test(v) && Number(v) >= min;
export const equals = (want: string) => (v: string) => v === want;

// ---- world-writable ----

const SYSTEM_DIRS = ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/etc'];

export function worldWritable(host: HostView): CheckOutcome {
  const found: string[] = [];
  const seen = new Set<string>();
  let examined = 0;
  let truncated = false;
  const walk = (dir: string): void => {
    for (const name of host.list(dir)) {
      if (examined >= host.limits.worldWritableScanLimit) {
        truncated = true;
        return;
      }
      const file = path.posix.join(dir, name);
      const st = host.lstat(file);
      if (!st || st.isSymbolicLink()) continue;
      examined++;
      if (st.isDirectory()) {
        // World-writable directories need the sticky bit; merged /usr is walked once.
        if (st.mode & 0o002 && !(st.mode & 0o1000)) found.push(`${file}/`);
        const key = `${st.dev}:${st.ino}`;
        if (!seen.has(key)) {
          seen.add(key);
          walk(file);
        }
      } else if (st.mode & 0o002) {
        found.push(file);
      }
    }
  };
  for (const dir of SYSTEM_DIRS) {
    const st = host.lstat(dir);
    if (!st || st.isSymbolicLink()) continue;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    walk(dir);
  }
  if (found.length) return fail(`world-writable: ${list(found)}${truncated ? ` (scan stopped after ${examined} files)` : ''}`);
  if (truncated) return err(`scan stopped after ${examined} files (osBaselineScanLimit) without a finding`);
  return pass(`${examined} entries under ${SYSTEM_DIRS.join(', ')}, none world-writable`);
}

export function tmpSticky(host: HostView): CheckOutcome {
  const st = host.stat('/tmp');
  if (!st) return err('/tmp not found');
  if (!st.isDirectory()) return fail('/tmp is not a directory');
  return st.mode & 0o1000 || !(st.mode & 0o002) ? pass(`/tmp ${modeText(st)}`) : fail(`/tmp ${modeText(st)}: world-writable without the sticky bit`);
}

