import { statSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { expandGlob, hasGlob } from '../../core/glob';
import { describeReadError, readRegularText } from '../../core/safe-read';
import { escapeControl } from '../../core/text-escape';
import { createEvent, type PayloadItem } from '../../core/event';
import { analyseDeployment, analyseRunningDeployment, sortFindings, type Finding } from '../../rules/index';
import { parsePath } from '../../rules/json-path';
import { JsonSyntaxError, parseJsonText } from '../../rules/json-text';
import { parseRuleOverridesText, RuleConfigError, type RuleOverrides } from '../../rules/overrides';
import type { Source, SourceContext, SourceDefinition } from '../source';
import { AlertState, findingFingerprint } from './alert-state';
import { dockerEndpoint, EdgeContainerReader } from './docker-access';
import { defineEventType } from '../../core/event-types';

export const EVENT_NAME = 'DeploymentManifestAnalysis';
export const DEPLOYMENT_MANIFEST_ANALYSIS = defineEventType({ name: EVENT_NAME, category: 'Periodic', defaultPriority: 'Low', schema: 'own' });
export const RUNNING_SOURCE = 'running';

interface SourcedFinding extends Finding {
  readonly source: string;
  readonly line?: number;
  readonly column?: number;
}

interface FileState {
  signature: string;
}

export function payloadItem(f: SourcedFinding): PayloadItem {
  const item: PayloadItem = {
    RuleId: f.ruleId,
    Severity: f.severity,
    Title: f.title,
    Module: f.module,
    Path: f.path,
    Message: f.message,
    Remediation: f.remediation,
    Source: f.source,
  };
  if (f.line !== undefined) item.ExtraDetails = { Line: String(f.line), Column: String(f.column ?? 1) };
  return item;
}

function fileSignature(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * Largest manifest file the module reads: IoT Hub caps a deployment at 512 KiB, and analysis needs
 * several times the file's size in memory on a device whose module is limited to a few hundred MB.
 */
export const MAX_MODULE_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Findings sent in one DeploymentManifestAnalysis event, most severe first (about 200 KB of payload,
 * one message at the default size). A hostile 4 MB manifest gives 100,000s of findings: sending them
 * all would fill the queues and bill thousands of messages; the status says how many were left out.
 */
export const MAX_FINDINGS_PER_EVENT = 1000;

/** The configured manifest paths and globs, expanded now (files may appear later); globs that hit a bound are named in `problems`. */
export async function resolveManifestFiles(patterns: readonly string[], cwd = process.cwd()): Promise<{ files: string[]; problems: string[] }> {
  const out = new Set<string>();
  const problems: string[] = [];
  for (const p of patterns) {
    const trimmed = p.trim();
    if (trimmed === '') continue;
    if (hasGlob(trimmed)) {
      const found = await expandGlob(trimmed, cwd);
      if (found.incomplete) problems.push(`${escapeControl(trimmed)}: ${found.incomplete} (symbolic-link loop or very large tree)`);
      for (const f of found.files) out.add(path.resolve(cwd, f));
    } else out.add(path.resolve(cwd, trimmed));
  }
  return { files: [...out].sort(), problems };
}

/** Analyses one manifest file; a file that is missing, special, too large or not JSON gives a problem, never an exception. */
export function analyseManifestFile(file: string, overrides?: RuleOverrides): { findings: SourcedFinding[]; problem?: string; dropped?: number } {
  let text: string;
  try {
    text = readRegularText(file, MAX_MODULE_MANIFEST_BYTES);
  } catch (error) {
    return { findings: [], problem: `${escapeControl(file)}: ${describeReadError(error)}` };
  }
  let parsed;
  try {
    parsed = parseJsonText(text, { comments: true });
  } catch (error) {
    const reason = error instanceof JsonSyntaxError ? `invalid JSON at line ${error.line}, column ${error.column}: ${error.reason}` : 'cannot parse';
    return { findings: [], problem: `${escapeControl(file)}: ${reason}` };
  }
  // Located in place: a copy per finding doubled the peak memory of a large manifest.
  let dropped: number | undefined;
  const findings = analyseDeployment(parsed.value, { overrides, maxFindingsPerSeverity: MAX_FINDINGS_PER_EVENT, onDropped: (n) => (dropped = n) }) as Array<
    Finding & { source?: string; line?: number; column?: number }
  >;
  for (const f of findings) {
    f.source = file;
    f.line = undefined;
    f.column = undefined;
  }
  parsed.locateEach(findings, (f) => parsePath(f.path), (f, line, column) => {
    f.line = line;
    f.column = column;
  });
  return { findings: findings as SourcedFinding[], dropped };
}

class DeploymentManifestsSource implements Source {
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private readonly files = new Map<string, FileState>();
  private runningSignature?: string;
  private lastFindingsKey?: string;
  private lastProblems = '';
  private stopped = false;
  private readonly alerts: AlertState;
  private readonly patterns: string[];
  private readonly analyseRunning: boolean;
  /** The agent's dockerHost setting, so every source talks to the same daemon. */
  private readonly dockerHost: string;
  private readonly edgeContainers: EdgeContainerReader;
  private readonly overrides?: RuleOverrides;
  private readonly overridesProblem?: string;

  constructor(private readonly ctx: SourceContext) {
    this.patterns = ctx.config.stringList('manifestSources');
    this.analyseRunning = ctx.config.boolean('manifestAnalyseRunningDeployment');
    this.dockerHost = ctx.config.has('dockerHost') ? ctx.config.string('dockerHost') : '';
    this.edgeContainers = new EdgeContainerReader(this.dockerHost);
    try {
      this.overrides = parseRuleOverridesText(ctx.config.string('manifestRuleOverrides'));
    } catch (error) {
      this.overridesProblem = `manifestRuleOverrides ignored: ${error instanceof RuleConfigError ? error.message : 'cannot be read'}`;
      ctx.log.warn(this.overridesProblem);
    }
    this.alerts = new AlertState(ctx.stateDir);
    this.alerts.load();
  }

  start(): void {
    const interval = this.ctx.config.durationMs('manifestPollInterval');
    this.timer = setInterval(() => this.schedule('change'), interval);
    this.timer.unref?.();
  }

  snapshot(): Promise<void> {
    return this.schedule('snapshot');
  }

  /** Runs are serialised: a poll never overlaps a snapshot. */
  private schedule(reason: 'snapshot' | 'change'): Promise<void> {
    this.chain = this.chain.then(() => this.run(reason)).catch((error: unknown) => {
      this.ctx.log.error('manifest analysis failed', { error: error instanceof Error ? error.message : String(error) });
    });
    return this.chain;
  }

  private async run(reason: 'snapshot' | 'change'): Promise<void> {
    if (this.stopped) return;
    const problems: string[] = this.overridesProblem ? [this.overridesProblem] : [];
    const resolved = await resolveManifestFiles(this.patterns);
    const files = resolved.files;
    problems.push(...resolved.problems);
    let changed = reason === 'snapshot';

    const seen = new Set<string>();
    for (const file of files) {
      seen.add(file);
      const signature = fileSignature(file) ?? 'missing';
      if (this.files.get(file)?.signature !== signature) changed = true;
      this.files.set(file, { signature });
    }
    for (const file of [...this.files.keys()]) if (!seen.has(file)) {
      this.files.delete(file);
      changed = true;
    }

    let runningFindings: SourcedFinding[] = [];
    let dockerProblem: string | undefined;
    if (this.analyseRunning) {
      try {
        const inspects = await this.edgeContainers.read();
        const signature = createHash('sha256').update(JSON.stringify(inspects.map((i) => [i.Id, i.Config?.Labels, i.HostConfig, i.Config?.Env, i.Config?.User, i.Mounts, i.State?.Running]))).digest('hex');
        if (signature !== this.runningSignature) changed = true;
        this.runningSignature = signature;
        runningFindings = analyseRunningDeployment(inspects, { overrides: this.overrides }).map((f) => ({ ...f, source: RUNNING_SOURCE }));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as { statusCode?: number }).statusCode ?? (error instanceof Error ? error.message : 'error');
        dockerProblem = `Docker not reachable at ${dockerEndpoint(this.dockerHost)} (${code}): the running deployment is not analysed; mount the Docker socket into the module or set manifestAnalyseRunningDeployment to false`;
        if (this.runningSignature !== 'unavailable') changed = true;
        this.runningSignature = 'unavailable';
      }
    }
    if (!changed) return;

    const findings: SourcedFinding[] = [];
    for (const file of files) {
      const result = analyseManifestFile(file, this.overrides);
      if (result.problem) problems.push(result.problem);
      if (result.dropped) problems.push(`${escapeControl(file)}: over ${MAX_FINDINGS_PER_EVENT} findings of one severity, ${result.dropped} left out (edgeguard scan lists them all)`);
      // No push(...spread): an argument list of 100,000s of findings overflows the stack.
      for (const f of result.findings) findings.push(f);
    }
    for (const f of runningFindings) findings.push(f);
    if (dockerProblem) problems.push(dockerProblem);
    sortFindings(findings);
    if (findings.length > MAX_FINDINGS_PER_EVENT) {
      problems.push(`${findings.length} findings: only the ${MAX_FINDINGS_PER_EVENT} most severe are sent (edgeguard scan lists them all)`);
    }

    // A digest, not the joined text: the findings of a large manifest are tens of MB of text.
    const digest = createHash('sha256');
    for (const f of findings) digest.update(JSON.stringify([f.ruleId, f.severity, f.module, f.path, f.source, f.message]));
    const key = digest.digest('hex');
    const findingsChanged = key !== this.lastFindingsKey;
    this.lastFindingsKey = key;
    this.reportStatus(problems, files.length);
    if (reason === 'change' && !findingsChanged) return;

    const severe = new Set(findings.filter((f) => f.severity === 'Critical' || f.severity === 'High').map((f) => findingFingerprint(f.ruleId, f.module, f.path, f.source)));
    const fresh = this.alerts.update(severe);
    const event = createEvent(EVENT_NAME, 'Periodic', findings.slice(0, MAX_FINDINGS_PER_EVENT).map(payloadItem));
    this.ctx.emit(event, { urgent: fresh.length > 0 });
    this.ctx.log.info('deployment analysed', { reason, files: files.length, running: this.analyseRunning && !dockerProblem, findings: findings.length, newCriticalOrHigh: fresh.length });
  }

  private reportStatus(problems: string[], fileCount: number): void {
    const method = [fileCount > 0 || this.patterns.length > 0 ? `${fileCount} manifest file(s)` : '', this.analyseRunning ? 'running deployment via Docker' : ''].filter(Boolean).join(' + ');
    const reason = problems.join('; ');
    // A warning when the problems change (a special or oversized file, a loop…), not on every poll.
    if (reason !== this.lastProblems && reason !== '') this.ctx.log.warn('deployment manifests: problems', { reason });
    this.lastProblems = reason;
    if (problems.length > 0) this.ctx.setStatus({ state: 'degraded', reason, method });
    else if (this.patterns.length === 0 && !this.analyseRunning) this.ctx.setStatus({ state: 'degraded', reason: 'nothing to analyse: manifestSources is empty and manifestAnalyseRunningDeployment is false', method: 'none' });
    else this.ctx.setStatus({ state: 'running', method });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain;
  }
}

export const DeploymentManifests: SourceDefinition = {
  name: 'DeploymentManifests',
  description: 'risky settings in IoT Edge deployments: manifest files mounted into the module and the running deployment rebuilt from Docker',
  events: [DEPLOYMENT_MANIFEST_ANALYSIS],
  settings: [
    { name: 'manifestSources', type: 'stringList', default: [], description: 'Deployment manifest files or globs (paths inside the EdgeGuard container, e.g. /manifests/*.json) analysed at start, on change and at snapshot frequency.' },
    { name: 'manifestAnalyseRunningDeployment', type: 'boolean', default: true, description: 'Also analyse the running deployment, rebuilt from the containers edgeAgent runs (needs the Docker socket).' },
    { name: 'manifestPollInterval', type: 'duration', default: 'PT30S', standaloneDefault: 'PT5S', description: 'How often manifest files and the running containers are checked for change (ISO 8601 duration).' },
  ],
  async start(ctx) {
    const source = new DeploymentManifestsSource(ctx);
    source.start();
    return source;
  },
};
