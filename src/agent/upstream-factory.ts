import { resolveConfigPath } from '../config/local-config-file';
import { getLogger, type Logger } from '../core/logger';
import { StandaloneUpstream } from '../upstream/standalone-upstream';
import { StdoutTransport } from '../upstream/stdout-transport';
import type { Upstream } from '../upstream/upstream';

/** IoT Edge (production workload API, or a connection string as ModuleClient.fromEnvironment reads it) or standalone. */
export function selectMode(env: NodeJS.ProcessEnv): Upstream['mode'] {
  return env.IOTEDGE_WORKLOADURI || env.EdgeHubConnectionString || env.IotHubConnectionString ? 'edgeHub' : 'standalone';
}

interface EdgeHubModule {
  createEdgeHubUpstream(options: { log?: Logger }): Upstream;
}

/** The standalone upstream (local file, stdout), or edgeHub's, loaded only when IoT Edge variables are set. */
export function createUpstream(mode: Upstream['mode'], stateDir: string, env: NodeJS.ProcessEnv, argv: readonly string[]): Upstream {
  if (mode === 'standalone') {
    return new StandaloneUpstream({ configFile: resolveConfigPath(argv, env), stateDir, transport: new StdoutTransport(), log: getLogger('standalone') });
  }
  let edgeHub: EdgeHubModule;
  try {
    edgeHub = require('../upstream/edgehub/upstream') as EdgeHubModule;
  } catch (error) {
    throw new Error(`IoT Edge variables are set but the edgeHub upstream cannot be loaded (${(error as Error).message.split('\n')[0]})`);
  }
  return edgeHub.createEdgeHubUpstream({ log: getLogger('edgehub') });
}
