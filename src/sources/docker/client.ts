import type Dockerode from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { loadDockerode } from './load-dockerode';

/** The Engine API version this code is written and tested against; newer daemons are spoken to at this version. */
export const CLIENT_API_VERSION = '1.41';
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** Where the daemon listens: a unix socket, or TCP (optionally TLS via DOCKER_TLS_VERIFY/DOCKER_CERT_PATH). */
export type DockerEndpoint = { socketPath: string } | { protocol: 'http' | 'https'; host: string; port: number };

export class DockerHostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerHostError';
  }
}

/**
 * The effective DOCKER_HOST-style setting: the setting when not empty, else DOCKER_HOST, else the
 * default unix socket.
 */
export function resolveDockerHost(setting = '', env: NodeJS.ProcessEnv = process.env): string {
  return setting.trim() || env.DOCKER_HOST?.trim() || DEFAULT_DOCKER_HOST;
}

/** unix:///path, /path, tcp://host:port, http(s)://host:port. Throws DockerHostError otherwise. */
export function parseDockerHost(host: string, env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  if (host.startsWith('/')) return { socketPath: host };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new DockerHostError(`Docker host ${host}: the socket path must be absolute`);
    return { socketPath };
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new DockerHostError(`Docker host ${host}: expected unix:///path/docker.sock or tcp://host:port`);
  }
  if (!['tcp:', 'http:', 'https:'].includes(url.protocol) || !url.hostname) {
    throw new DockerHostError(`Docker host ${host}: unsupported scheme ${url.protocol} (use unix:// or tcp://)`);
  }
  const tls = url.protocol === 'https:' || (url.protocol === 'tcp:' && !!env.DOCKER_TLS_VERIFY && env.DOCKER_TLS_VERIFY !== '0');
  const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
  return { protocol: tls ? 'https' : 'http', host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

/** Lower of two dotted API versions ("1.41" vs "1.45"). */
export function lowerApiVersion(a: string, b: string): string {
  return compareApiVersions(a, b) <= 0 ? a : b;
}

export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface DockerConnection {
  /** Client pinned to the negotiated API version, with a per-request timeout. */
  readonly docker: Dockerode;
  /** Same endpoint and version without an idle timeout: for long-lived streams such as /events. */
  readonly streaming: Dockerode;
  /** The negotiated version: min(daemon's ApiVersion, CLIENT_API_VERSION). */
  readonly apiVersion: string;
  readonly daemonApiVersion: string;
  readonly daemonVersion: string;
  /** The DOCKER_HOST-style address used, for status and logs. */
  readonly host: string;
}

export interface ConnectOptions {
  /** DOCKER_HOST-style setting; empty means DOCKER_HOST, else unix:///var/run/docker.sock. */
  dockerHost?: string;
  /** Per-request timeout of `docker` (not `streaming`). Default 10 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

function endpointOptions(endpoint: DockerEndpoint, env: NodeJS.ProcessEnv): Dockerode.DockerOptions {
  if ('socketPath' in endpoint) return { socketPath: endpoint.socketPath };
  const options: Dockerode.DockerOptions = { protocol: endpoint.protocol, host: endpoint.host, port: endpoint.port };
  if (endpoint.protocol === 'https' && env.DOCKER_CERT_PATH) {
    // Read lazily: only a TLS endpoint needs the files, and a missing one must be a clear error.
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const { join } = require('node:path') as typeof import('node:path');
    options.ca = readFileSync(join(env.DOCKER_CERT_PATH, 'ca.pem'));
    options.cert = readFileSync(join(env.DOCKER_CERT_PATH, 'cert.pem'));
    options.key = readFileSync(join(env.DOCKER_CERT_PATH, 'key.pem'));
  }
  return options;
}

/**
 * A client for the daemon at `dockerHost`, connected: GET /version answered, and every later
 * request pinned to the lower of the daemon's API version and ours (IoT Edge devices run moby
 * engines from API 1.40 up). Rejects when the daemon does not answer.
 */
export async function connectDocker(options: ConnectOptions = {}): Promise<DockerConnection> {
  const env = options.env ?? process.env;
  const host = resolveDockerHost(options.dockerHost, env);
  const base = endpointOptions(parseDockerHost(host, env), env);
  const timeout = options.timeoutMs ?? 10_000;
  // Loaded here: code paths that never talk to Docker do not pay for dockerode.
  const Docker = loadDockerode();
  const probe = new Docker({ ...base, timeout });
  const info = await probe.version();
  const daemonApiVersion = String(info.ApiVersion ?? '');
  if (!/^\d+\.\d+$/.test(daemonApiVersion)) throw new Error(`Docker daemon at ${host} did not report an API version`);
  const apiVersion = lowerApiVersion(daemonApiVersion, CLIENT_API_VERSION);
  return {
    docker: new Docker({ ...base, timeout, version: `v${apiVersion}` }),
    streaming: new Docker({ ...base, version: `v${apiVersion}` }),
    apiVersion,
    daemonApiVersion,
    daemonVersion: String(info.Version ?? ''),
    host,
  };
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/**
 * Every container (running or not, or those matching `filters`), inspected. A container removed
 * between list and inspect is skipped, not an error.
 */
export async function inspectAllContainers(docker: Dockerode, filters?: Record<string, string[]>): Promise<ContainerInspectInfo[]> {
  const list = await docker.listContainers({ all: true, ...(filters ? { filters } : {}) });
  const inspected: ContainerInspectInfo[] = [];
  for (const c of list) {
    const info = await inspectContainer(docker, c.Id);
    if (info) inspected.push(info);
  }
  return inspected;
}

/** One container's inspect, or undefined when it no longer exists. */
export async function inspectContainer(docker: Dockerode, id: string): Promise<ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(id).inspect();
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
}
