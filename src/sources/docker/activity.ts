import type { PayloadItem } from '../../core/event';
import type { Finding } from '../../rules/finding';
import { eventTimeIso, type DockerEvent } from './events';
import { edgeModuleName } from './labels';

/**
 * The Docker event actions reported as ContainerActivity by default, as "<type>.<action>".
 * Other actions (network connect, attach, resize, health_status…) are read and ignored.
 */
export const DEFAULT_ACTIVITY_ACTIONS: readonly string[] = [
  'container.create',
  'container.start',
  'container.restart',
  'container.die',
  'container.kill',
  'container.oom',
  'container.destroy',
  'container.pause',
  'container.unpause',
  'container.rename',
  'container.update',
  'container.exec_create',
  'container.exec_start',
  'container.exec_die',
  'image.pull',
  'image.delete',
  'image.tag',
  'image.untag',
  'image.import',
  'image.load',
  'volume.mount',
];

/** Event types the stream is filtered to (server side). */
export const WATCHED_TYPES = ['container', 'image', 'volume'] as const;

export const EXEC_ACTIONS: ReadonlySet<string> = new Set(['exec_create', 'exec_start', 'exec_die']);

/** What the watcher learned about an exec beyond the event itself. */
export interface ExecDetails {
  command?: string;
  user?: string;
  /** Where User came from: the exec's own --user, the container's configured user, or Docker's default (root). */
  userSource?: 'exec' | 'container' | 'default';
  privileged?: boolean;
  healthCheck?: boolean;
}

export interface ActivityDetails {
  exec?: ExecDetails;
  /** On container start: the container's Critical and High findings. */
  findings?: readonly Finding[];
  /** Container name known from an earlier event or inspect (image events carry none). */
  containerName?: string;
}

function intOrUndefined(s: string | undefined): number | undefined {
  if (s === undefined || !/^-?\d+$/.test(s)) return undefined;
  return Number(s);
}

function setIf(item: PayloadItem, key: string, value: unknown): void {
  if (value !== undefined && value !== '') item[key] = value;
}

/** The ContainerActivity payload item of one Docker event. */
export function activityPayload(e: DockerEvent, details: ActivityDetails = {}): PayloadItem {
  const a = e.attributes;
  const item: PayloadItem = { Action: e.action, ObjectType: e.type, EventTime: eventTimeIso(e.timeNano) };
  if (e.type === 'container') {
    const name = a.name ?? details.containerName;
    setIf(item, 'ContainerId', e.actorId);
    setIf(item, 'ContainerName', name);
    setIf(item, 'ModuleName', edgeModuleName(a, name));
    setIf(item, 'Image', a.image);
    if (e.action === 'die' || e.action === 'exec_die') setIf(item, 'ExitCode', intOrUndefined(a.exitCode));
    if (e.action === 'kill') setIf(item, 'Signal', a.signal);
    if (e.action === 'rename') setIf(item, 'OldName', a.oldName?.replace(/^\//, ''));
    if (EXEC_ACTIONS.has(e.action)) {
      const x = details.exec ?? {};
      setIf(item, 'ExecId', a.execID);
      setIf(item, 'Command', x.command ?? (a.execCommand || e.actionDetail));
      setIf(item, 'User', x.user);
      if (x.privileged !== undefined) item.ExecPrivileged = x.privileged;
      if (x.healthCheck) item.HealthCheck = true;
      if (x.userSource) item.ExtraDetails = { ...item.ExtraDetails, UserSource: x.userSource };
    }
  } else if (e.type === 'image') {
    // Actor.ID is the image ID (sha256:…) for tag/untag/delete/import and the reference for pull/load.
    setIf(item, 'ImageId', e.actorId.startsWith('sha256:') ? e.actorId : undefined);
    setIf(item, 'ImageName', a.name && !a.name.startsWith('sha256:') ? a.name : e.actorId.startsWith('sha256:') ? undefined : e.actorId);
  } else if (e.type === 'volume') {
    setIf(item, 'VolumeName', e.actorId);
    setIf(item, 'ContainerId', a.container);
    setIf(item, 'ContainerName', details.containerName);
    setIf(item, 'Destination', a.destination);
    if (a['read/write'] !== undefined) item.ReadWrite = a['read/write'] === 'true';
    setIf(item, 'Propagation', a.propagation);
    setIf(item, 'Driver', a.driver);
  }
  if (details.findings && details.findings.length > 0) {
    item.Findings = details.findings.map((f) => ({ RuleId: f.ruleId, Severity: f.severity, Title: f.title, Path: f.path }));
  }
  return item;
}

/**
 * The command a health check runs, as an exec event shows it: ["CMD-SHELL", "x"] -> "/bin/sh -c x",
 * ["CMD", "a", "b"] -> "a b". Undefined when the container has no health check.
 */
export function healthCheckCommand(test: readonly string[] | undefined): string | undefined {
  if (!test || test.length < 2) return undefined;
  if (test[0] === 'CMD-SHELL') return `/bin/sh -c ${test.slice(1).join(' ')}`;
  if (test[0] === 'CMD') return test.slice(1).join(' ');
  return undefined;
}
