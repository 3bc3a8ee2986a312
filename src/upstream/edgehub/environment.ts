/** How the module reaches edgeHub, read from the variables IoT Edge (or a developer) sets. */
export type EdgeHubConnectionMode = 'connectionString' | 'workloadApi';

export interface EdgeHubEndpoint {
  readonly mode: EdgeHubConnectionMode;
  /** Where the MQTT connection goes (gateway host, else hub host); never a secret. */
  readonly host: string;
  readonly deviceId: string;
  readonly moduleId: string;
}

const WORKLOAD_VARIABLES = [
  'IOTEDGE_WORKLOADURI',
  'IOTEDGE_DEVICEID',
  'IOTEDGE_MODULEID',
  'IOTEDGE_MODULEGENERATIONID',
  'IOTEDGE_IOTHUBHOSTNAME',
  'IOTEDGE_AUTHSCHEME',
] as const;

/** Every variable the Azure IoT SDK's `ModuleClient.fromEnvironment` looks at. */
export const IOT_ENVIRONMENT_VARIABLES = [
  'EdgeHubConnectionString',
  'IotHubConnectionString',
  'EdgeModuleCACertificateFile',
  ...WORKLOAD_VARIABLES,
  'IOTEDGE_GATEWAYHOSTNAME',
] as const;

function connectionStringField(connectionString: string, key: string): string | undefined {
  for (const part of connectionString.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === key.toLowerCase()) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The endpoint the SDK's `ModuleClient.fromEnvironment` will use, or undefined when neither the dev pair
 * (`EdgeHubConnectionString`/`IotHubConnectionString`) nor the complete workload-API set is present
 * (then the agent runs standalone). Same precedence as the SDK: a connection string wins.
 */
export function detectEdgeHubEndpoint(env: NodeJS.ProcessEnv = process.env): EdgeHubEndpoint | undefined {
  const connectionString = env.EdgeHubConnectionString || env.IotHubConnectionString;
  if (connectionString) {
    return {
      mode: 'connectionString',
      host: connectionStringField(connectionString, 'GatewayHostName') ?? connectionStringField(connectionString, 'HostName') ?? '?',
      deviceId: connectionStringField(connectionString, 'DeviceId') ?? '?',
      moduleId: connectionStringField(connectionString, 'ModuleId') ?? '?',
    };
  }
  if (WORKLOAD_VARIABLES.every((name) => env[name])) {
    return {
      mode: 'workloadApi',
      host: env.IOTEDGE_GATEWAYHOSTNAME || env.IOTEDGE_IOTHUBHOSTNAME || '?',
      deviceId: env.IOTEDGE_DEVICEID ?? '?',
      moduleId: env.IOTEDGE_MODULEID ?? '?',
    };
  }
  return undefined;
}

/** Names of the workload-API variables that are missing, for a clear log line when only some are set. */
export function missingWorkloadVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  return WORKLOAD_VARIABLES.filter((name) => !env[name]);
}
