import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { connectDocker, resolveDockerHost, type DockerConnection } from '../../src/sources/docker/client';
import { repoRoot } from './paths';
import { testDockerSocket } from './docker-host';

export { testDockerSocket };

export const TEST_IMAGE = 'local/busybox:1';
/** Every container a test creates carries this label, valued with the test run's id. */
export const TEST_LABEL = 'io.edgeguard.test-run';
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'cat', 'true', 'echo', 'id'];

/**
 * The daemon tests use, or why there is none. Tests call skipReason() first and skip LOUDLY with it.
 */
export async function dockerForTests(): Promise<{ connection: DockerConnection } | { skip: string }> {
  const host = resolveDockerHost('');
  try {
    return { connection: await connectDocker({ timeoutMs: 15_000 }) };
  } catch (error) {
    const reason = `SKIPPED: no Docker daemon at ${host} (${(error as Error).message}); start the tests' private engine with scripts/docker-env.sh start`;
    console.error(reason);
    return { skip: reason };
  }
}

/** What a Docker test file needs, or the (already printed) reason it skips. */
export interface DockerTests {
  skip: string | false;
  /** Valid only when `skip` is false. */
  connection: DockerConnection;
  /** Valid only when `skip` is false. */
  containers: TestContainers;
}

/** For a test file's `before`: connects, makes sure the test image exists, prepares container clean-up. */
export async function openDockerTests(): Promise<DockerTests> {
  const d = await dockerForTests();
  if ('skip' in d) return { skip: d.skip } as DockerTests;
  const skip = (await ensureTestImage(d.connection.docker)) ?? false;
  return { skip, connection: d.connection, containers: new TestContainers(d.connection.docker) };
}

/**
 * local/busybox:1, imported from a root file system of Debian's busybox-static binary and links for
 * the applets the tests use. Nothing is pulled. Returns a skip reason when it cannot be built.
 */
export async function ensureTestImage(docker: Dockerode): Promise<string | undefined> {
  const images = await docker.listImages({ filters: { reference: [TEST_IMAGE] } });
  if (images.length > 0) return undefined;
  if (!existsSync(BUSYBOX)) {
    const reason = `SKIPPED: ${BUSYBOX} missing (apt-get install busybox-static) — cannot build ${TEST_IMAGE}`;
    console.error(reason);
    return reason;
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-rootfs-'));
  try {
    mkdirSync(path.join(root, 'bin'));
    execFileSync('cp', [BUSYBOX, path.join(root, 'bin', 'busybox')]);
    for (const applet of APPLETS) symlinkSync('busybox', path.join(root, 'bin', applet));
    mkdirSync(path.join(root, 'tmp'));
    chmodSync(path.join(root, 'tmp'), 0o1777);
    const tar = execFileSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
    // The image's own PATH: an imported image has no environment.
    execFileSync('docker', ['import', '-c', 'ENV PATH=/bin', '-c', 'CMD ["/bin/sh"]', '-', TEST_IMAGE], { input: tar, stdio: ['pipe', 'ignore', 'pipe'] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return undefined;
}

/** Creates containers labelled with this run's id, and removes every one of them in cleanup(). */
export class TestContainers {
  readonly runId = randomBytes(6).toString('hex');

  constructor(readonly docker: Dockerode) {}

  name(base: string): string {
    return `eg-${base}-${this.runId}`;
  }

  /** Always --network none; the image defaults to local/busybox:1 running `sleep 600`. */
  async create(base: string, options: Partial<Dockerode.ContainerCreateOptions> = {}): Promise<Dockerode.Container> {
    return this.docker.createContainer({
      name: this.name(base),
      Image: TEST_IMAGE,
      Cmd: ['sleep', '600'],
      ...options,
      Labels: { ...options.Labels, [TEST_LABEL]: this.runId },
      HostConfig: { ...options.HostConfig, NetworkMode: 'none' },
    });
  }

  async list(): Promise<Dockerode.ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${this.runId}`] } });
  }

  async cleanup(): Promise<void> {
    for (const c of await this.list().catch(() => [])) {
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
  }
}

/** Runs `cmd` in a running container and waits for it to finish; returns its exit code. */
export async function execIn(container: Dockerode.Container, cmd: string[], user?: string): Promise<number> {
  const exec = await container.exec({ Cmd: cmd, User: user, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.resume();
  });
  const info = await exec.inspect();
  return info.ExitCode ?? -1;
}

/** The repository's scripts/docker-env.sh, for tests that restart the daemon. */
export function dockerEnvScript(): string {
  return path.join(repoRoot(), 'scripts', 'docker-env.sh');
}
