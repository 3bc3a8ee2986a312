import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentProcess } from './agent-process';
import { reportedSourceStatus } from './reported-status';

/** One message as the standalone agent prints it on stdout. */
export interface PrintedMessage {
  AgentId: string;
  Events: Array<{ Name: string; Category: string; Payload: Array<Record<string, unknown>> }>;
}

/** Every IoT Edge variable that would switch the agent to edgeHub mode. */
const MODULE_VARIABLES = ['IOTEDGE_WORKLOADURI', 'EdgeHubConnectionString', 'IotHubConnectionString'];

/**
 * What the built agent needs to run standalone with `dir` holding its edgeguard.yaml and (unless
 * `stateDir` says otherwise) its state directory: none of the IoT Edge variables of this process.
 */
export function standaloneEnvironment(dir: string, extra: Record<string, string> = {}, stateDir = path.join(dir, 'state')): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, EDGEGUARD_STATE_DIR: stateDir, EDGEGUARD_CONFIG: path.join(dir, 'edgeguard.yaml'), ...extra };
  for (const name of MODULE_VARIABLES) delete env[name];
  return env;
}

/** The messages among output lines: those that parse as JSON objects. */
export function printedMessages(lines: readonly string[]): PrintedMessage[] {
  const out: PrintedMessage[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as PrintedMessage);
    } catch {
      // a log line that happens to start with a brace: not a message
    }
  }
  return out;
}

/**
 * The built agent run standalone in a fresh directory (its config file and state directory), through
 * test/harness/agent-process.ts. Messages are the stdout lines that parse as JSON objects.
 */
export class StandaloneAgent {
  readonly dir: string;
  readonly stateDir: string;
  readonly process: AgentProcess;
  private readonly ownsDir: boolean;

  constructor(config: string, options: { env?: Record<string, string>; dir?: string; stateDir?: string } = {}) {
    this.ownsDir = options.dir === undefined;
    this.dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'edgeguard-hardening-'));
    writeFileSync(path.join(this.dir, 'edgeguard.yaml'), config);
    this.stateDir = options.stateDir ?? path.join(this.dir, 'state');
    this.process = new AgentProcess(standaloneEnvironment(this.dir, { EDGEGUARD_LOG_LEVEL: 'info', ...options.env }, this.stateDir));
  }

  get lines(): readonly string[] {
    return this.process.lines;
  }

  messages(): PrintedMessage[] {
    return printedMessages(this.process.lines);
  }

  events(name: string): PrintedMessage['Events'] {
    return this.messages().flatMap((m) => m.Events.filter((e) => e.Name === name));
  }

  sourceStatus(source: string): ReturnType<typeof reportedSourceStatus> {
    return reportedSourceStatus(this.stateDir, source);
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${this.process.tail(40)}`);
      if (!this.process.running) throw new Error(`agent exited while waiting for ${what}\n${this.process.tail(40)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then the exit code; the directory is removed unless `keep`. */
  async stop(keep = false): Promise<number | null> {
    try {
      return await this.process.stop('SIGTERM', 20_000);
    } finally {
      if (!keep && this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sources that read the whole host; switched off where a test looks at something else, to keep it cheap. */
export const QUIET_SOURCES = [
  'collectorEnabledProcessEvents: false',
  'collectorEnabledConnections: false',
  'collectorEnabledContainerRuntime: false',
  'collectorEnabledDeploymentManifests: false',
  'collectorEnabledOSBaseline: false',
  'collectorEnabledKernelModules: false',
  'collectorEnabledFirewallConfiguration: false',
  'collectorEnabledLogins: false',
].join('\n');
