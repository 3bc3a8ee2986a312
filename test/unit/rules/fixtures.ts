/** A hardened deployment that triggers no rule at all; tests change one thing and look for one rule. */
export type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test fixtures are free-form JSON

export const DIGEST = `@sha256:${'a'.repeat(64)}`;

export function hardenedHostConfig(): Doc {
  return {
    Memory: 268435456,
    NanoCpus: 500000000,
    PidsLimit: 200,
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
  };
}

export function cleanDeployment(): Doc {
  return {
    modulesContent: {
      $edgeAgent: {
        'properties.desired': {
          schemaVersion: '1.1',
          runtime: {
            type: 'docker',
            settings: { registryCredentials: { acr: { username: 'deploy', password: '$ACR_PASSWORD', address: 'myacr.azurecr.io' } } },
          },
          systemModules: {
            edgeAgent: {
              type: 'docker',
              env: { StorageFolder: { value: '/iotedge/storage' } },
              settings: {
                image: `mcr.microsoft.com/azureiotedge-agent:1.5.9${DIGEST}`,
                createOptions: JSON.stringify({ User: '1000', HostConfig: { ...hardenedHostConfig(), Binds: ['/srv/edgeAgent:/iotedge/storage'] } }),
              },
            },
            edgeHub: {
              type: 'docker',
              status: 'running',
              restartPolicy: 'always',
              env: { StorageFolder: { value: '/iotedge/storage' } },
              settings: {
                image: `mcr.microsoft.com/azureiotedge-hub:1.5.9${DIGEST}`,
                createOptions: { User: '1000', HostConfig: { ...hardenedHostConfig(), Binds: ['/srv/edgeHub:/iotedge/storage'] } },
              },
            },
          },
          modules: {
            sensor: {
              version: '1.0',
              type: 'docker',
              status: 'running',
              restartPolicy: 'always',
              settings: { image: `myacr.azurecr.io/sensor:2.1.0${DIGEST}`, createOptions: { User: '1000', HostConfig: hardenedHostConfig() } },
            },
          },
          integrity: { header: { signercert: ['x'], intermediatecacert: ['y'] }, signature: { bytes: 'z', algorithm: 'ES256' } },
        },
      },
      $edgeHub: {
        'properties.desired': {
          schemaVersion: '1.2',
          routes: { sensorUp: 'FROM /messages/modules/sensor/outputs/telemetry INTO $upstream' },
          storeAndForwardConfiguration: { timeToLiveSecs: 7200 },
        },
      },
    },
  };
}

export function agentDesired(d: Doc): Doc {
  return d.modulesContent.$edgeAgent['properties.desired'];
}

export function hubDesired(d: Doc): Doc {
  return d.modulesContent.$edgeHub['properties.desired'];
}

/** A module's definition: sensor, edgeHub or edgeAgent. */
export function moduleDef(d: Doc, name: string): Doc {
  const desired = agentDesired(d);
  return desired.modules[name] ?? desired.systemModules[name];
}

/** A module's createOptions as an object (edgeAgent's string form is turned into an object). */
export function createOptions(d: Doc, name: string): Doc {
  const settings = moduleDef(d, name).settings;
  if (typeof settings.createOptions === 'string') settings.createOptions = JSON.parse(settings.createOptions);
  return settings.createOptions;
}

export function hostConfig(d: Doc, name: string): Doc {
  return createOptions(d, name).HostConfig;
}

export function setEnv(d: Doc, name: string, envName: string, value: string): void {
  const def = moduleDef(d, name);
  def.env ??= {};
  def.env[envName] = { value };
}
