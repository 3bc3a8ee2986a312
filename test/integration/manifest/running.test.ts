import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { analyseContainer, analyseRunningDeployment } from '../../../src/rules/index';
import { inspectEdgeContainers } from '../../../src/sources/manifest/docker-access';
import { testDockerSocket } from '../../harness/docker';

const OWNER = 'net.azure-devices.edge.owner';
const docker = new Docker({ socketPath: testDockerSocket() });
const suffix = randomBytes(4).toString('hex');
const created: Docker.Container[] = [];
let skip: string | false = false;
let image = '';

before(async () => {
  try {
    await docker.ping();
  } catch {
    skip = `SKIPPED: no Docker daemon at ${process.env.DOCKER_HOST} (start the tests' private engine with scripts/docker-env.sh start)`;
    console.error(skip);
    return;
  }
  const images = await docker.listImages();
  image = images.flatMap((i) => i.RepoTags ?? []).find((t) => t !== '<none>:<none>') ?? '';
  if (!image) {
    skip = 'SKIPPED: the Docker daemon has no local image to create containers from (docker import a tiny root fs as local/busybox:1)';
    console.error(skip);
  }
});

after(async () => {
  for (const c of created) await c.remove({ force: true }).catch(() => undefined);
});

async function create(name: string, hostConfig: Docker.HostConfig, labels: Record<string, string>, env: string[] = []): Promise<void> {
  // Created, not started: the rules read the configuration, and privileged containers cannot start on every test machine.
  const c = await docker.createContainer({ name, Image: image, Cmd: ['sleep', '600'], Env: env, Labels: labels, HostConfig: { NetworkMode: 'none', ...hostConfig } });
  created.push(c);
}

describe('running deployment from a real dockerd', () => {
  test('edgeAgent-owned containers are rebuilt into a deployment and analysed', async (t) => {
    if (skip) return t.skip(skip);
    const agentName = `edgeAgent`;
    const existing = await docker.listContainers({ all: true, filters: { name: [`^/${agentName}$`] } });
    const useAgent = existing.length === 0;
    if (useAgent) {
      await create(agentName, {}, { [OWNER]: 'Microsoft.Azure.Devices.Edge.Agent', 'net.azure-devices.edge.env': JSON.stringify({ RuntimeLogLevel: { value: 'debug' } }) }, ['RuntimeLogLevel=debug']);
    }
    await create(`eg-sensor-${suffix}`, { Privileged: true, CapAdd: ['SYS_ADMIN'], Binds: ['/var/run/docker.sock:/var/run/docker.sock:ro'] }, { [OWNER]: 'Microsoft.Azure.Devices.Edge.Agent' }, [`DB_PASSWORD=pw-${suffix}`]);
    await create(`eg-stranger-${suffix}`, { Privileged: true }, {});

    const inspects = await inspectEdgeContainers();
    const names = inspects.map((i) => i.Name);
    assert.ok(names.includes(`/eg-sensor-${suffix}`));
    assert.ok(!names.includes(`/eg-stranger-${suffix}`), 'containers not owned by edgeAgent are left out');

    const findings = analyseRunningDeployment(inspects).filter((f) => f.module === `eg-sensor-${suffix}` || f.module === 'edgeAgent');
    const sensor = (id: string) => findings.find((f) => f.ruleId === id && f.module === `eg-sensor-${suffix}`);
    assert.ok(sensor('C01'), 'privileged');
    assert.ok(sensor('C02'), 'SYS_ADMIN');
    assert.ok(sensor('C09'), 'docker socket');
    assert.ok(sensor('S03'), 'secret-named env');
    assert.ok(!JSON.stringify(findings).includes(`pw-${suffix}`));
    if (useAgent) assert.ok(findings.some((f) => f.ruleId === 'H06' && f.module === 'edgeAgent'), 'edgeAgent env label read');

    const direct = analyseContainer(inspects.find((i) => i.Name === `/eg-sensor-${suffix}`)!);
    assert.equal(direct.find((f) => f.ruleId === 'C01')?.path, '$.HostConfig.Privileged');
    assert.ok(direct.find((f) => f.ruleId === 'C09')?.path.startsWith('$.Mounts['));
  });
});
