import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareApiVersions, DockerHostError, lowerApiVersion, parseDockerHost, resolveDockerHost } from '../../../src/sources/docker/client';

describe('Docker host setting', () => {
  test('setting, else DOCKER_HOST, else the default socket', () => {
    assert.equal(resolveDockerHost('unix:///a.sock', { DOCKER_HOST: 'tcp://h:1' }), 'unix:///a.sock');
    assert.equal(resolveDockerHost('  ', { DOCKER_HOST: 'tcp://h:1' }), 'tcp://h:1');
    assert.equal(resolveDockerHost('', {}), 'unix:///var/run/docker.sock');
  });

  test('unix sockets, TCP and TLS endpoints', () => {
    assert.deepEqual(parseDockerHost('unix:///var/run/docker.sock', {}), { socketPath: '/var/run/docker.sock' });
    assert.deepEqual(parseDockerHost('/run/x.sock', {}), { socketPath: '/run/x.sock' });
    assert.deepEqual(parseDockerHost('tcp://127.0.0.1:2375', {}), { protocol: 'http', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseDockerHost('tcp://localhost', {}), { protocol: 'http', host: 'localhost', port: 2375 });
    assert.deepEqual(parseDockerHost('tcp://localhost', { DOCKER_TLS_VERIFY: '1' }), { protocol: 'https', host: 'localhost', port: 2376 });
    assert.deepEqual(parseDockerHost('https://[::1]:9000', {}), { protocol: 'https', host: '::1', port: 9000 });
  });

  test('bad addresses are clear errors', () => {
    for (const bad of ['unix://relative.sock', 'ssh://user@host', 'docker.sock', 'tcp://']) {
      assert.throws(() => parseDockerHost(bad, {}), DockerHostError, bad);
    }
  });
});

describe('API version negotiation', () => {
  test('the lower of two versions, numerically', () => {
    assert.equal(lowerApiVersion('1.41', '1.45'), '1.41');
    assert.equal(lowerApiVersion('1.45', '1.41'), '1.41');
    assert.equal(lowerApiVersion('1.9', '1.40'), '1.9', '1.9 < 1.40');
    assert.ok(compareApiVersions('1.40', '1.40') === 0);
    assert.ok(compareApiVersions('2.0', '1.99') > 0);
  });
});
