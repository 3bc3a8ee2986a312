import type { SettingDefinition } from '../config/settings';
import { containerRuntimeSource } from './docker/index';
import { DeploymentManifests } from './manifest/index';
import { processEventsSource } from './host/process-events';
import { systemInformationSource } from './host/system-information';
import { loginSource } from './host/login';
import { localUsersSource } from './host/local-users';
import { firewallConfigurationSource } from './host/firewall-configuration';
import { osBaselineSource } from './host/os-baseline';
import { connectionsSource } from './host/connections';
import { listeningPortsSource } from './host/listening-ports';
import { kernelModulesSource } from './host/kernel-modules';
import { fileOperationsSource } from './host/kernel-sensor/file-operations';
import type { SourceDefinition } from './source';

/** The host collectors (src/sources/host), in start order: one line per collector. */
export const HOST_SOURCES: readonly SourceDefinition[] = [
  systemInformationSource,
  processEventsSource,
  connectionsSource,
  listeningPortsSource,
  loginSource,
  localUsersSource,
  firewallConfigurationSource,
  osBaselineSource,
  kernelModulesSource,
  fileOperationsSource,
];

/**
 * Every source EdgeGuard has, in start order. Add a source here and it gets its
 * `collectorEnabled<Name>` setting, a status entry in the twin, and start/stop/restart handling.
 */
export const ALL_SOURCES: readonly SourceDefinition[] = [
  ...HOST_SOURCES,
  containerRuntimeSource,
  DeploymentManifests,
];

export function enabledSettingName(source: SourceDefinition): string {
  return `collectorEnabled${source.name}`;
}

/** Settings declared by the sources plus each source's on/off switch. */
export function sourceSettings(sources: readonly SourceDefinition[] = ALL_SOURCES): SettingDefinition[] {
  return sources.flatMap((s) => [
    { name: enabledSettingName(s), type: 'boolean' as const, default: true, description: `Run the ${s.name} source: ${s.description}` },
    ...s.settings,
  ]);
}
