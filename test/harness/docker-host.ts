import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './paths';

/**
 * Tests and benches reach Docker through DOCKER_HOST only, and by default that is the private engine of
 * scripts/docker-env.sh (its own socket and data root), never the machine's daemon at /var/run/docker.sock.
 * scripts/test.sh sets it; a test file run alone gets the same default as soon as it imports this
 * module (the Docker harness and the agent-process harnesses do), and agent children inherit it.
 */
if (!process.env.DOCKER_HOST) {
  process.env.DOCKER_HOST = execFileSync('bash', [path.join(repoRoot(), 'scripts', 'docker-env.sh'), 'host'], { encoding: 'utf8' }).trim();
}

/** The unix socket of the tests' engine (DOCKER_HOST). */
export function testDockerSocket(): string {
  const host = process.env.DOCKER_HOST ?? '';
  if (!host.startsWith('unix://')) throw new Error(`the tests' Docker engine must be a unix socket, DOCKER_HOST is ${host}`);
  return host.slice('unix://'.length);
}
