import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { loadDockerode } from '../../../src/sources/docker/load-dockerode';

const loaded = (pkg: string): boolean => Object.keys(require.cache).some((f) => f.includes(`${path.sep}node_modules${path.sep}${pkg}${path.sep}`));

test('dockerode loads without ssh2, gRPC or protobufjs; the SSH transport still loads on its first use', () => {
  const Docker = loadDockerode();
  const docker = new Docker({ socketPath: '/nonexistent/docker.sock' });
  assert.equal(typeof docker.listContainers, 'function');
  for (const pkg of ['ssh2', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'long', 'cpu-features']) assert.equal(loaded(pkg), false, `${pkg} not loaded`);
  assert.equal(loadDockerode(), Docker, 'the same module on a second load');

  // docker-modem's own reference to its ssh module is the deferred one: calling it loads the real thing.
  const modem = createRequire(require.resolve('dockerode'))('docker-modem') as unknown;
  assert.ok(modem);
  const sshFile = path.join(path.dirname(createRequire(require.resolve('dockerode')).resolve('docker-modem')), 'ssh.js');
  const ssh = require.cache[sshFile]!.exports as (opt: Record<string, unknown>) => unknown;
  const agent = ssh({ host: 'example.invalid' });
  assert.ok(agent instanceof http.Agent, 'the real SSH agent factory ran');
  assert.equal(loaded('ssh2'), true, 'ssh2 loaded on first use');
  assert.ok(ssh({ host: 'example.invalid' }) instanceof http.Agent, 'and again, from the loaded module');
});
