import type { SettingDefinition } from '../config/settings';

/**
 * The agent's own settings, and the settings several components read (the Docker endpoint, the rule
 * overrides): they belong to the agent, not to one source. Every component that reads one sees a
 * change (a source that read it is restarted with the new configuration).
 */
export const AGENT_SETTINGS: readonly SettingDefinition[] = [
  { name: 'logLevel', type: 'enum', default: 'info', values: ['error', 'warn', 'info', 'debug'], description: 'Log level; the IoT Edge RuntimeLogLevel variable sets it until the twin does.' },
  {
    name: 'redactCommandLineSecrets',
    type: 'boolean',
    default: true,
    description:
      'Replace secrets in every string of every event (command lines wherever they appear: --password x, TOKEN=x, mysql -px, redis-cli -a x, curl -u u:x…; URL credentials, connection-string keys, Authorization headers) with *** before events are queued; the item gets ExtraDetails RedactedFields (where, never what). See docs/pipeline.md.',
  },
  {
    name: 'dockerHost',
    type: 'string',
    default: '',
    description:
      'Docker Engine address (unix:///path/docker.sock or tcp://host:port). Empty: the DOCKER_HOST variable, else unix:///var/run/docker.sock (mount the socket into the module). Read by the ContainerRuntime, SystemInformation and DeploymentManifests sources.',
  },
  {
    name: 'manifestRuleOverrides',
    type: 'string',
    default: '',
    description:
      'Rule settings as YAML or JSON text, same format as `edgeguard scan --config`, e.g. {"rules":{"C19":{"enabled":false},"R01":{"severity":"Low","modules":["sensor"]}}}. Read by the DeploymentManifests and ContainerRuntime sources.',
  },
];
