import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyseDeployment, catalogue, type Finding } from '../../../src/rules/index';
import { agentDesired, cleanDeployment, createOptions, DIGEST, hostConfig, hubDesired, moduleDef, setEnv, type Doc } from './fixtures';

interface RuleCase {
  id: string;
  /** Makes the deployment trigger the rule. */
  positive: (d: Doc) => void;
  /** A near miss that must not trigger it. */
  negative: (d: Doc) => void;
  module?: string;
  severity?: string;
  pathIncludes?: string;
}

const img = (d: Doc, name: string, image: string) => {
  moduleDef(d, name).settings.image = image;
};

const CASES: RuleCase[] = [
  { id: 'C01', positive: (d) => (hostConfig(d, 'sensor').Privileged = 'true'), negative: (d) => (hostConfig(d, 'sensor').Privileged = false), module: 'sensor', severity: 'Critical', pathIncludes: 'HostConfig.Privileged' },
  { id: 'C02', positive: (d) => (hostConfig(d, 'sensor').CapAdd = ['cap_sys_admin']), negative: (d) => (hostConfig(d, 'sensor').CapAdd = ['NET_BIND_SERVICE']), severity: 'High', pathIncludes: 'CapAdd[0]' },
  { id: 'C03', positive: (d) => (hostConfig(d, 'sensor').CapAdd = ['IPC_LOCK']), negative: (d) => (hostConfig(d, 'sensor').CapAdd = ['CAP_CHOWN']), severity: 'Medium' },
  { id: 'C04', positive: (d) => (hostConfig(d, 'sensor').NetworkMode = 'host'), negative: (d) => (hostConfig(d, 'sensor').NetworkMode = 'azure-iot-edge') },
  { id: 'C04', positive: (d) => (createOptions(d, 'sensor').NetworkingConfig = { EndpointsConfig: { host: {} } }), negative: (d) => (createOptions(d, 'sensor').NetworkingConfig = { EndpointsConfig: { 'azure-iot-edge': {} } }) },
  { id: 'C05', positive: (d) => (hostConfig(d, 'sensor').PidMode = 'host'), negative: (d) => (hostConfig(d, 'sensor').PidMode = 'container:other') },
  { id: 'C06', positive: (d) => (hostConfig(d, 'sensor').IpcMode = 'host'), negative: (d) => (hostConfig(d, 'sensor').IpcMode = 'private') },
  { id: 'C07', positive: (d) => (hostConfig(d, 'sensor').UTSMode = 'host'), negative: (d) => (hostConfig(d, 'sensor').UTSMode = '') },
  { id: 'C08', positive: (d) => (hostConfig(d, 'sensor').UsernsMode = 'host'), negative: (d) => (hostConfig(d, 'sensor').UsernsMode = '') },
  { id: 'C09', positive: (d) => (hostConfig(d, 'sensor').Binds = ['/var/run/docker.sock:/var/run/docker.sock:ro']), negative: (d) => (hostConfig(d, 'sensor').Binds = ['/var/run/app/docker.sock.d:/x']), severity: 'Critical' },
  { id: 'C09', positive: (d) => (hostConfig(d, 'sensor').Mounts = [{ Type: 'bind', Source: '/run/containerd/containerd.sock', Target: '/c.sock' }]), negative: (d) => (hostConfig(d, 'sensor').Mounts = [{ Type: 'volume', Source: 'containerd.sock', Target: '/c' }]) },
  { id: 'C10', positive: (d) => (hostConfig(d, 'sensor').Binds = ['/var/run/iotedge/mgmt.sock:/var/run/iotedge/mgmt.sock']), negative: (d) => (hostConfig(d, 'edgeAgent').Binds = ['/srv/edgeAgent:/iotedge/storage', '/var/run/iotedge/mgmt.sock:/var/run/iotedge/mgmt.sock']), module: 'sensor' },
  { id: 'C10', positive: (d) => (hostConfig(d, 'sensor').Binds = ['/etc/aziot:/etc/aziot:ro']), negative: (d) => (hostConfig(d, 'sensor').Binds = ['/var/lib/aziot/edged/mnt/sensor.sock:/var/run/iotedge/workload.sock']) },
  { id: 'C11', positive: (d) => (hostConfig(d, 'sensor').Binds = ['/etc:/host/etc']), negative: (d) => (hostConfig(d, 'sensor').Binds = ['/etc/localtime:/etc/localtime:ro', '/srv/data:/data']), severity: 'High' },
  { id: 'C11', positive: (d) => (hostConfig(d, 'sensor').Binds = ['/:/host:ro']), negative: (d) => (hostConfig(d, 'sensor').Binds = ['/devices:/d', '/etcetera:/e']), severity: 'Medium' },
  { id: 'C12', positive: (d) => hostConfig(d, 'sensor').SecurityOpt.push('seccomp=unconfined'), negative: (d) => hostConfig(d, 'sensor').SecurityOpt.push('seccomp=/profiles/strict.json') },
  { id: 'C13', positive: (d) => hostConfig(d, 'sensor').SecurityOpt.push('apparmor:unconfined'), negative: (d) => hostConfig(d, 'sensor').SecurityOpt.push('apparmor=docker-default') },
  { id: 'C14', positive: (d) => hostConfig(d, 'sensor').SecurityOpt.push('label=disable'), negative: (d) => hostConfig(d, 'sensor').SecurityOpt.push('label=type:svirt_apache_t') },
  { id: 'C15', positive: (d) => (hostConfig(d, 'sensor').Devices = [{ PathOnHost: '/dev/ttyUSB0', PathInContainer: '/dev/ttyUSB0', CgroupPermissions: 'rwm' }]), negative: (d) => (hostConfig(d, 'sensor').Devices = []), severity: 'Low' },
  { id: 'C15', positive: (d) => (hostConfig(d, 'sensor').DeviceCgroupRules = ['c *:* rwm']), negative: (d) => (hostConfig(d, 'sensor').DeviceCgroupRules = []), severity: 'Medium' },
  { id: 'C15', positive: (d) => (hostConfig(d, 'sensor').Devices = [{ PathOnHost: '/dev/mem', PathInContainer: '/dev/mem' }]), negative: (d) => delete hostConfig(d, 'sensor').Devices, severity: 'Medium' },
  { id: 'C16', positive: (d) => (hostConfig(d, 'sensor').Binds = ['/srv/data:/data:rshared']), negative: (d) => (hostConfig(d, 'sensor').Binds = ['/srv/data:/data:rslave']) },
  { id: 'C16', positive: (d) => (hostConfig(d, 'sensor').Mounts = [{ Type: 'bind', Source: '/srv/d', Target: '/d', BindOptions: { Propagation: 'shared' } }]), negative: (d) => (hostConfig(d, 'sensor').Mounts = [{ Type: 'bind', Source: '/srv/d', Target: '/d' }]) },
  { id: 'C17', positive: (d) => (createOptions(d, 'sensor').User = '0:0'), negative: (d) => (createOptions(d, 'sensor').User = '1000:0') },
  { id: 'C18', positive: (d) => (hostConfig(d, 'sensor').Sysctls = { 'net.ipv4.ip_forward': '1' }), negative: (d) => (hostConfig(d, 'sensor').Sysctls = { 'net.ipv4.ping_group_range': '0 2147483647' }) },
  { id: 'C19', positive: (d) => (hostConfig(d, 'sensor').SecurityOpt = []), negative: (d) => (hostConfig(d, 'sensor').SecurityOpt = ['no-new-privileges:true']), severity: 'Low' },
  { id: 'C20', positive: (d) => delete hostConfig(d, 'sensor').ReadonlyRootfs, negative: (d) => (hostConfig(d, 'sensor').ReadonlyRootfs = 'true'), severity: 'Info' },
  { id: 'R01', positive: (d) => (hostConfig(d, 'sensor').Memory = 0), negative: (d) => (hostConfig(d, 'sensor').Memory = 1), severity: 'Medium' },
  { id: 'R02', positive: (d) => delete hostConfig(d, 'sensor').NanoCpus, negative: (d) => { delete hostConfig(d, 'sensor').NanoCpus; hostConfig(d, 'sensor').CpuShares = 512; } },
  { id: 'R03', positive: (d) => (hostConfig(d, 'sensor').PidsLimit = -1), negative: (d) => (hostConfig(d, 'sensor').PidsLimit = 64) },
  { id: 'R04', positive: (d) => (hostConfig(d, 'sensor').OomKillDisable = true), negative: (d) => (hostConfig(d, 'sensor').OomKillDisable = false) },
  { id: 'R05', positive: (d) => (hostConfig(d, 'sensor').LogConfig = { Type: 'json-file', Config: { 'max-size': '10m' } }), negative: (d) => (hostConfig(d, 'sensor').LogConfig = { Type: 'journald' }) },
  { id: 'R05', positive: (d) => delete hostConfig(d, 'sensor').LogConfig, negative: (d) => (hostConfig(d, 'sensor').LogConfig = { Type: 'local', Config: { 'max-size': '5m', 'max-file': '2' } }) },
  { id: 'N01', positive: (d) => (hostConfig(d, 'sensor').PortBindings = { '8080/tcp': [{ HostPort: '8080' }] }), negative: (d) => (hostConfig(d, 'sensor').PortBindings = { '8080/tcp': [{ HostPort: '8080', HostIp: '127.0.0.1' }] }), severity: 'Medium' },
  { id: 'N01', positive: (d) => (hostConfig(d, 'edgeHub').PortBindings = { '8883/tcp': [{ HostPort: '8883', HostIp: '0.0.0.0' }] }), negative: (d) => (hostConfig(d, 'edgeHub').PortBindings = { '8883/tcp': [{ HostPort: '8883', HostIp: '192.0.2.10' }] }), severity: 'Info', module: 'edgeHub' },
  { id: 'N02', positive: (d) => (hostConfig(d, 'sensor').PortBindings = { '80/tcp': [{ HostPort: '80', HostIp: '127.0.0.1' }] }), negative: (d) => (hostConfig(d, 'sensor').PortBindings = { '80/tcp': [{ HostPort: '8080', HostIp: '127.0.0.1' }] }) },
  { id: 'N03', positive: (d) => (hostConfig(d, 'sensor').PublishAllPorts = true), negative: (d) => (hostConfig(d, 'sensor').PublishAllPorts = false) },
  { id: 'N04', positive: (d) => (createOptions(d, 'sensor').ExposedPorts = { '22/tcp': {} }), negative: (d) => (createOptions(d, 'sensor').ExposedPorts = { '22/udp': {}, '2222/tcp': {} }) },
  { id: 'N05', positive: (d) => (createOptions(d, 'sensor').ExposedPorts = { '9229/tcp': {} }), negative: (d) => (createOptions(d, 'sensor').ExposedPorts = { '9230/tcp': {} }), severity: 'High' },
  { id: 'N05', positive: (d) => (createOptions(d, 'sensor').Cmd = ['node', '--inspect=0.0.0.0:9229', 'app.js']), negative: (d) => (createOptions(d, 'sensor').Cmd = ['node', '--inspect=127.0.0.1:9229', 'app.js']) },
  { id: 'I01', positive: (d) => img(d, 'sensor', 'myacr.azurecr.io/sensor'), negative: (d) => img(d, 'sensor', `myacr.azurecr.io/sensor:latest${DIGEST}`), severity: 'Medium' },
  { id: 'I02', positive: (d) => img(d, 'sensor', 'myacr.azurecr.io/sensor:2.1.0'), negative: (d) => img(d, 'sensor', '${MODULES.sensor}') },
  { id: 'I03', positive: (d) => img(d, 'edgeHub', 'mcr.microsoft.com/azureiotedge-hub:1.5'), negative: (d) => img(d, 'edgeHub', 'mcr.microsoft.com/azureiotedge-hub:1.5.21-linux-arm64v8'), module: 'edgeHub' },
  { id: 'I04', positive: (d) => img(d, 'sensor', `myacr.azurecr.io/sensor:2.1.0-debug${DIGEST}`), negative: (d) => img(d, 'sensor', `myacr.azurecr.io/sensor:2.1.0-release${DIGEST}`) },
  { id: 'I05', positive: (d) => img(d, 'edgeAgent', 'mcr.microsoft.com/azureiotedge-agent:1.2.10'), negative: (d) => img(d, 'edgeAgent', 'mcr.microsoft.com/azureiotedge-agent:1.5.0'), severity: 'High' },
  { id: 'I05', positive: (d) => img(d, 'edgeAgent', 'mcr.microsoft.com/azureiotedge-agent:1.4.27'), negative: (d) => img(d, 'edgeAgent', 'mcr.microsoft.com/azureiotedge-agent:${EDGE_VERSION}'), severity: 'Medium' },
  { id: 'I06', positive: (d) => img(d, 'sensor', `otherreg.example.com/sensor:1.0${DIGEST}`), negative: (d) => img(d, 'sensor', `mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.0${DIGEST}`) },
  { id: 'S01', positive: (d) => (agentDesired(d).runtime.settings.registryCredentials.acr.password = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), negative: (d) => (agentDesired(d).runtime.settings.registryCredentials.acr.password = '${CONTAINER_REGISTRY_PASSWORD}'), severity: 'High' },
  { id: 'S02', positive: (d) => setEnv(d, 'sensor', 'STORAGE', 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0;EndpointSuffix=core.windows.net'), negative: (d) => setEnv(d, 'sensor', 'STORAGE', 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=$STORAGE_KEY'), severity: 'Critical' },
  { id: 'S02', positive: (d) => (createOptions(d, 'sensor').Env = [`DEVICE_KEY=${'Q'.repeat(43)}=`]), negative: (d) => (createOptions(d, 'sensor').Env = [`DEVICE_ID=${'Q'.repeat(43)}=`]) },
  { id: 'S02', positive: (d) => (d.modulesContent.sensor = { 'properties.desired': { upload: 'https://acct.blob.core.windows.net/c?sv=2020-08-04&sig=abcDEF%2Fxyz%3D&se=2030' } }), negative: (d) => (d.modulesContent.sensor = { 'properties.desired': { upload: 'https://acct.blob.core.windows.net/c/model.zip' } }) },
  { id: 'S03', positive: (d) => setEnv(d, 'sensor', 'DB_PASSWORD', 'Strong!Passw0rd'), negative: (d) => setEnv(d, 'sensor', 'DB_PASSWORD_FILE', '/run/secrets/db'), severity: 'Medium' },
  { id: 'S03', positive: (d) => (createOptions(d, 'sensor').Env = ['ApiToken=abc123']), negative: (d) => (createOptions(d, 'sensor').Env = ['ApiToken=#{token}#', 'SASL_MECHANISM=PLAIN']) },
  { id: 'S04', positive: (d) => setEnv(d, 'sensor', 'BROKER', 'mqtts://user:hunter2@broker.example.com:8883'), negative: (d) => setEnv(d, 'sensor', 'BROKER', 'mqtts://user@broker.example.com:8883'), severity: 'High' },
  { id: 'S05', positive: (d) => setEnv(d, 'edgeHub', 'IotHubConnectionString', '$HUB_CS'), negative: (d) => setEnv(d, 'sensor', 'IotHubConnectionString', '$HUB_CS'), module: 'edgeHub', severity: 'Critical' },
  { id: 'S06', positive: (d) => setEnv(d, 'edgeAgent', 'RegistryPassword', 'p4ssw0rd'), negative: (d) => setEnv(d, 'edgeAgent', 'RegistryPassword', '$REGISTRY_PASSWORD'), module: 'edgeAgent', severity: 'High' },
  { id: 'H01', positive: (d) => setEnv(d, 'edgeHub', 'SslProtocols', 'tls1.1,tls1.2'), negative: (d) => setEnv(d, 'edgeHub', 'SslProtocols', 'tls1.2, tls1.3'), severity: 'High' },
  { id: 'H02', positive: (d) => setEnv(d, 'edgeHub', 'AuthenticationMode', 'Cloud'), negative: (d) => setEnv(d, 'edgeHub', 'AuthenticationMode', 'CloudAndScope') },
  { id: 'H03', positive: (d) => setEnv(d, 'edgeHub', 'experimentalFeatures__enabled', 'true'), negative: (d) => setEnv(d, 'edgeHub', 'experimentalFeatures__enabled', 'false') },
  {
    id: 'H04',
    positive: (d) => (hostConfig(d, 'edgeHub').PortBindings = { '5671/tcp': [{ HostPort: '5671', HostIp: '127.0.0.1' }] }),
    negative: (d) => {
      hostConfig(d, 'edgeHub').PortBindings = { '5671/tcp': [{ HostPort: '5671', HostIp: '127.0.0.1' }] };
      setEnv(d, 'edgeHub', 'amqpSettings__enabled', 'false');
    },
    severity: 'Info',
  },
  { id: 'H05', positive: (d) => (hostConfig(d, 'edgeHub').Binds = []), negative: (d) => (hostConfig(d, 'edgeHub').Binds = ['edgehub-store:/iotedge']), module: 'edgeHub' },
  { id: 'H06', positive: (d) => setEnv(d, 'edgeAgent', 'RuntimeLogLevel', 'debug'), negative: (d) => setEnv(d, 'edgeAgent', 'RuntimeLogLevel', 'info') },
  { id: 'H07', positive: (d) => (hubDesired(d).storeAndForwardConfiguration.timeToLiveSecs = 1209600), negative: (d) => (hubDesired(d).storeAndForwardConfiguration.timeToLiveSecs = 604800) },
  { id: 'H07', positive: (d) => (hubDesired(d).routes.sensorUp = { route: 'FROM /messages/modules/sensor/* INTO $upstream', priority: 0, timeToLiveSecs: 2000000 }), negative: (d) => (hubDesired(d).routes.sensorUp = { route: 'FROM /messages/modules/sensor/* INTO $upstream', priority: 0, timeToLiveSecs: 86400 }) },
  {
    id: 'H08',
    positive: (d) => (hubDesired(d).mqttBroker = { authorizations: [{ identities: ['{{iot:identity}}'], allow: [{ operations: ['mqtt:publish', 'mqtt:subscribe'], resources: ['#'] }] }] }),
    negative: (d) => (hubDesired(d).mqttBroker = { authorizations: [{ identities: ['{{iot:identity}}'], allow: [{ operations: ['mqtt:publish'], resources: ['sensors/{{iot:device_id}}/#'] }] }] }),
  },
  { id: 'H09', positive: (d) => setEnv(d, 'edgeHub', 'EncryptTwinStore', 'false'), negative: (d) => setEnv(d, 'edgeHub', 'EncryptTwinStore', 'true') },
  { id: 'H10', positive: (d) => setEnv(d, 'edgeHub', 'UpstreamProtocol', 'AmqpWs'), negative: (d) => { setEnv(d, 'edgeHub', 'UpstreamProtocol', 'AmqpWs'); setEnv(d, 'edgeAgent', 'UpstreamProtocol', 'amqpws'); } },
  { id: 'M01', positive: (d) => (agentDesired(d).schemaVersion = '2.0'), negative: (d) => (agentDesired(d).schemaVersion = '1.0'), severity: 'High' },
  { id: 'M01', positive: (d) => (hubDesired(d).schemaVersion = '1.4'), negative: (d) => (hubDesired(d).schemaVersion = '1.3') },
  { id: 'M02', positive: (d) => (moduleDef(d, 'sensor').settings.createOptions = '{"HostConfig": {'), negative: (d) => (moduleDef(d, 'sensor').settings.createOptions = '') },
  {
    id: 'M02',
    positive: (d) => Object.assign(moduleDef(d, 'sensor').settings, { createOptions: '{"HostConfig":', createOptions02: '{}}' }),
    negative: (d) => Object.assign(moduleDef(d, 'sensor').settings, { createOptions: '{"User":"1000","HostConfig":', createOptions01: JSON.stringify(hostConfigLiteral()) + '}' }),
  },
  { id: 'M03', positive: (d) => (moduleDef(d, 'sensor').restartPolicy = 'sometimes'), negative: (d) => (moduleDef(d, 'sensor').restartPolicy = 'On-Unhealthy') },
  { id: 'M03', positive: (d) => (moduleDef(d, 'sensor').status = 'paused'), negative: (d) => (moduleDef(d, 'sensor').imagePullPolicy = 'never') },
  { id: 'M04', positive: (d) => delete agentDesired(d).integrity, negative: () => undefined, severity: 'Info' },
  // Docker and edgeAgent read keys case-insensitively: two spellings are ambiguous even with equal values.
  { id: 'M06', positive: (d) => (hostConfig(d, 'sensor').pidslimit = 200), negative: (d) => (hostConfig(d, 'sensor').PidsLimit = 100), severity: 'High', pathIncludes: 'HostConfig.pidslimit' },
  { id: 'M05', positive: (d) => (hubDesired(d).routes.all = 'FROM /messages/* INTO $upstream'), negative: (d) => (hubDesired(d).routes.all = 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream') },
];

function hostConfigLiteral(): Doc {
  return cleanDeployment().modulesContent.$edgeAgent['properties.desired'].modules.sensor.settings.createOptions.HostConfig;
}

function run(mutate: (d: Doc) => void): Finding[] {
  const d = cleanDeployment();
  mutate(d);
  return analyseDeployment(d);
}

describe('rule catalogue', () => {
  test('the hardened baseline deployment has no finding at all', () => {
    assert.deepEqual(run(() => undefined), []);
  });

  test('every catalogue rule has a positive and a negative case here', () => {
    const covered = new Set(CASES.map((c) => c.id));
    const missing = [...catalogue().rules.keys()].filter((id) => !covered.has(id));
    assert.deepEqual(missing, []);
  });

  CASES.forEach((c, i) => {
    test(`${c.id} #${i}: positive`, () => {
      const hits = run(c.positive).filter((f) => f.ruleId === c.id);
      assert.ok(hits.length > 0, `${c.id} not reported; got ${run(c.positive).map((f) => f.ruleId).join(',')}`);
      const hit = hits[0]!;
      if (c.module) assert.equal(hit.module, c.module);
      if (c.severity) assert.ok(hits.some((h) => h.severity === c.severity), `severity ${hits.map((h) => h.severity).join(',')} != ${c.severity}`);
      if (c.pathIncludes) assert.ok(hit.path.includes(c.pathIncludes), hit.path);
      assert.ok(hit.title.length > 0 && hit.remediation.length > 0 && hit.message.length > 0);
      assert.ok(hit.path.startsWith('$'));
    });
    test(`${c.id} #${i}: negative`, () => {
      const hits = run(c.negative).filter((f) => f.ruleId === c.id);
      assert.deepEqual(hits, []);
    });
  });
});
