import path from 'node:path';
import type { HostView } from './host-view';
import { splitWords } from '../split-words';

export const DOCKER_DAEMON_JSON = '/etc/docker/daemon.json';
const UNIT_FILES = ['/etc/systemd/system/docker.service', '/run/systemd/system/docker.service', '/usr/lib/systemd/system/docker.service', '/lib/systemd/system/docker.service'];
const DROP_IN_DIRS = ['/etc/systemd/system/docker.service.d', '/run/systemd/system/docker.service.d'];
const DOCKERD_BINARIES = ['/usr/bin/dockerd', '/usr/sbin/dockerd', '/usr/local/bin/dockerd'];

export interface DockerDaemonConfig {
  /** dockerd or its configuration is on the host (Docker CE, moby-engine of IoT Edge). */
  installed: boolean;
  /** daemon.json as parsed; undefined when the file does not exist. */
  daemonJson?: Record<string, unknown>;
  /** Why daemon.json could not be parsed. */
  daemonJsonError?: string;
  /** Listen addresses: daemon.json "hosts" and -H/--host of the effective ExecStart. */
  hosts: string[];
  /** tlsverify set in daemon.json or on the command line. */
  tlsVerify: boolean;
  /** tls (encryption without client verification) set. */
  tls: boolean;
  /** Unit files read, for the detail text. */
  units: string[];
}

function flagValue(value: string | undefined): boolean {
  return value === undefined || value === 'true' || value === '1';
}

/** The effective dockerd command line of systemd: the main unit, then drop-ins (an empty ExecStart= resets). */
function execStart(view: HostView, units: string[]): string[] {
  let command: string | undefined;
  const main = UNIT_FILES.find((f) => view.readText(f) !== undefined);
  const files = [
    ...(main ? [main] : []),
    ...DROP_IN_DIRS.flatMap((dir) => view.list(dir).filter((n) => n.endsWith('.conf')).map((n) => path.posix.join(dir, n))),
  ];
  for (const file of files) {
    const text = view.readText(file);
    if (text === undefined) continue;
    units.push(file);
    for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
      const m = /^\s*ExecStart\s*=\s*(.*)$/.exec(line);
      if (m) command = m[1]!.trim() === '' ? undefined : m[1]!.trim();
    }
  }
  return command ? (splitWords(command.replace(/^[-@:+!]+/, '')) ?? []) : [];
}

export function readDockerDaemonConfig(view: HostView): DockerDaemonConfig {
  const config: DockerDaemonConfig = { installed: false, hosts: [], tlsVerify: false, tls: false, units: [] };
  const text = view.readText(DOCKER_DAEMON_JSON);
  if (text !== undefined) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      config.daemonJson = parsed as Record<string, unknown>;
    } catch (err) {
      // Not the parser's message: it quotes the file, which is not ours to repeat.
      config.daemonJsonError = err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message;
    }
  }
  const json = config.daemonJson ?? {};
  if (Array.isArray(json.hosts)) config.hosts.push(...json.hosts.filter((h): h is string => typeof h === 'string'));
  config.tlsVerify = json.tlsverify === true;
  config.tls = json.tls === true;
  const words = execStart(view, config.units);
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const [flag, inline] = w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined];
    if (flag === '-H' || flag === '--host') {
      const value = inline ?? words[++i];
      if (value) config.hosts.push(value);
    } else if (/^-H./.test(w)) {
      config.hosts.push(w.slice(2));
    } else if (flag === '--tlsverify') {
      config.tlsVerify = flagValue(inline);
    } else if (flag === '--tls') {
      config.tls = flagValue(inline);
    }
  }
  config.installed = text !== undefined || view.exists('/etc/docker') || config.units.length > 0 || DOCKERD_BINARIES.some((b) => view.exists(b));
  return config;
}
