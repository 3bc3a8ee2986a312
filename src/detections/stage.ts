import path from 'node:path';
import type { ConfigView } from '../config/config-view';
import type { EmitEvent, SecurityEvent } from '../core/event';
import { getLogger, type Logger } from '../core/logger';
import type { AlertItem } from './alert';
import { Baseline, BASELINE_CATEGORIES } from './baseline';
import { DetectionEngine, type EngineTuning, type Emit } from './engine';
import { parseException } from './exceptions';
import { compileRules, shippedRuleSources, type RuleSource } from './loader';
import type { AlertSeverity, CompiledRule } from './model';
import { LIST_SETTINGS, RANGE_SETTINGS } from './settings';
import { readUserRulesFile } from './user-rules';

const RECENT_ALERTS = 100;
const TICK_MS = 1_000;
const SAVE_EVERY_MS = 10_000;

export interface StageOptions {
  /** The baseline lives in <stateDir>/detections/baseline.json. */
  readonly stateDir?: string;
  readonly log?: Logger;
  readonly now?: () => number;
  /** Rules to use instead of the shipped ones (tests, the detect CLI). */
  readonly sources?: readonly RuleSource[];
}

/**
 * The detections stage of the chain: the engine plus its configuration, baseline persistence, the
 * alert log line, counters and the recent-alerts list. The pipeline calls observe() for every raw
 * event (after redaction, before aggregation) and tick() every second.
 */
export class DetectionStage {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly engine: DetectionEngine;
  private readonly baseline: Baseline;
  private readonly recent: AlertItem[] = [];
  private readonly counts = new Map<string, { rule: string; severity: string; count: number }>();
  private enabled = true;
  private lastRulesSignature = '';
  private lastRestart: string | undefined;
  private lastSave = 0;
  /** The last problem with the operator's rules file (logged as an error), if any. */
  rulesProblem: string | undefined;
  private bound?: Emit;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: StageOptions = {}) {
    this.log = options.log ?? getLogger('detections');
    this.now = options.now ?? Date.now;
    const file = options.stateDir ? path.join(options.stateDir, 'detections', 'baseline.json') : undefined;
    this.baseline = new Baseline(file, 86_400_000, this.now(), (message, details) => this.log.warn(message, details));
    const { rules } = compileRules(options.sources ?? shippedRuleSources());
    this.engine = new DetectionEngine(rules, this.now, this.baseline, {
      onAlert: (item) => this.onAlert(item),
      onRateLimited: (rule) => this.log.warn('alert rate limit reached: further alerts of this rule are counted, not sent, for the rest of the hour', { rule: rule.id, maxPerHour: rule.maxPerHour }),
    });
  }

  /** Applies the detection settings; a bad user rules file keeps the previous rules and is reported. */
  configure(config: ConfigView): void {
    this.enabled = config.boolean('detectionsEnabled');
    this.baseline.setLearningPeriod(config.durationMs('detectionLearningPeriod'));
    const restart = config.string('detectionBaselineRestart');
    if (this.lastRestart !== undefined && restart !== this.lastRestart) {
      this.baseline.restart(this.now());
      this.log.info('baseline learning restarted', { until: new Date(this.baseline.learningEndsAt()).toISOString() });
    }
    this.lastRestart = restart;
    for (const entry of config.stringList('detectionBaselineAccept')) {
      const eq = entry.indexOf('=');
      if (eq > 0) this.acceptBaseline(entry.slice(0, eq), entry.slice(eq + 1));
    }
    this.reloadRules(config);
    const numbers = new Map<string, number>(RANGE_SETTINGS.map((s) => [s, config.integer(s)]));
    const severity = new Map<string, AlertSeverity>();
    for (const entry of config.stringList('detectionSeverityOverrides')) {
      const [id, sev] = entry.split('=');
      if (id && (sev === 'High' || sev === 'Medium' || sev === 'Low')) severity.set(id, sev);
    }
    const exceptions = config.stringList('detectionExceptions').flatMap((e) => {
      try {
        return [parseException(e)];
      } catch {
        return []; // the twin validation rejected it already
      }
    });
    const tuning: EngineTuning = { disabled: new Set(config.stringList('detectionRulesDisabled')), severity, exceptions, numbers };
    this.engine.setTuning(tuning);
  }

  private reloadRules(config: ConfigView): void {
    const file = config.string('detectionRulesFile');
    const lists = LIST_SETTINGS.map(({ setting, list }) => ({ list, items: config.stringList(setting) }));
    const signature = JSON.stringify({ file, lists });
    if (signature === this.lastRulesSignature && file === '') return;
    this.lastRulesSignature = signature;
    const sources: RuleSource[] = [...(this.options.sources ?? shippedRuleSources())];
    // Operator lists from the twin, as rules-file items appended to the shipped lists.
    const appended = lists.filter((l) => l.items.length > 0).map((l) => ({ list: l.list, items: l.items, append: true }));
    if (appended.length > 0) sources.push({ file: 'twin settings', text: JSON.stringify(appended) });
    if (file !== '') {
      try {
        sources.push({ file, text: readUserRulesFile(file) });
      } catch (err) {
        this.reportRulesProblem((err as Error).message);
        return;
      }
    }
    try {
      const { rules, defs } = compileRules(sources);
      const nonEmpty = new Set([...defs.lists].filter(([, items]) => items.length > 0).map(([name]) => name));
      this.engine.setRules(rules, nonEmpty);
      if (this.rulesProblem !== undefined) this.log.info('detection rules loaded', { rules: rules.length });
      this.rulesProblem = undefined;
    } catch (err) {
      this.reportRulesProblem((err as Error).message);
    }
  }

  private reportRulesProblem(message: string): void {
    if (message !== this.rulesProblem) this.log.error('detection rules not reloaded; the previous rules keep running', { problem: message });
    this.rulesProblem = message;
  }

  /**
   * The pipeline's detections slot (src/pipeline/detections-slot.ts): binds the stage to the chain's
   * emit and returns the function that sees every raw event. Alerts are emitted urgent (High queue, sent
   * at once); a 1 s timer closes detection windows.
   */
  readonly factory = (emit: EmitEvent): ((event: SecurityEvent) => void) => {
    this.bound = (e) => emit(e, e.Name === 'SecurityAlert' ? { urgent: true } : undefined);
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      try {
        this.tick(this.bound!);
      } catch (err) {
        this.log.warn('detection windows not closed', { error: err });
      }
    }, TICK_MS);
    this.timer.unref();
    return (event) => this.observe(event, this.bound!);
  };

  /** Stops the timer and sends the counts of open windows (before the pipeline closes). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.bound) this.flush(this.bound);
  }

  observe(event: SecurityEvent, emit: Emit): void {
    if (!this.enabled) return;
    this.engine.observe(event, emit);
  }

  tick(emit: Emit): void {
    if (!this.enabled) return;
    this.engine.tick(emit);
    const now = this.now();
    if (now - this.lastSave >= SAVE_EVERY_MS) {
      this.lastSave = now;
      this.saveBaseline();
    }
  }

  /** Sends the counts of every open window (stop). */
  flush(emit: Emit): void {
    this.engine.closeAll(emit);
    this.saveBaseline();
  }

  private saveBaseline(): void {
    try {
      this.baseline.save();
    } catch (err) {
      this.log.warn('baseline not saved', { error: err });
    }
  }

  private onAlert(item: AlertItem): void {
    const key = `${item.RuleId}|${item.Severity}`;
    const c = this.counts.get(key) ?? { rule: item.RuleId, severity: item.Severity, count: 0 };
    c.count++;
    this.counts.set(key, c);
    this.recent.push(item);
    if (this.recent.length > RECENT_ALERTS) this.recent.shift();
    const e = item.Entity;
    this.log.warn(`ALERT ${item.Severity} ${item.RuleId} ${item.RuleName}`, {
      status: item.Status,
      count: item.Count,
      key: item.DetectionKey,
      ...(e.Executable ? { executable: e.Executable } : {}),
      ...(e.ContainerName ? { container: e.ContainerName } : {}),
      ...(e.UserName ? { user: e.UserName } : {}),
      ...(e.RemoteAddress ? { address: e.RemoteAddress } : {}),
      ...(item.Suppressed ? { suppressed: item.Suppressed } : {}),
    });
  }

  /** `alerts` direct method: the most recent alerts (up to 100), newest last; {"limit": n, "severity": "High"} filter. */
  recentAlerts(payload: unknown): { status: number; payload: unknown } {
    const p = payload && typeof payload === 'object' ? (payload as { limit?: unknown; severity?: unknown }) : {};
    if (p.limit !== undefined && !(Number.isInteger(p.limit) && (p.limit as number) > 0)) return { status: 400, payload: { error: 'limit must be a positive integer' } };
    if (p.severity !== undefined && !['High', 'Medium', 'Low'].includes(p.severity as string)) return { status: 400, payload: { error: 'severity must be High, Medium or Low' } };
    const list = this.recent.filter((a) => p.severity === undefined || a.Severity === p.severity);
    const limit = (p.limit as number | undefined) ?? RECENT_ALERTS;
    return { status: 200, payload: { alerts: list.slice(-limit), baseline: this.baseline.summary(this.now()) } };
  }

  /** `acceptBaseline` direct method: {"category": "executables", "value": "<DetectionKey>"} or {"restart": true}. */
  baselineMethod(payload: unknown): { status: number; payload: unknown } {
    const p = payload && typeof payload === 'object' ? (payload as { category?: unknown; value?: unknown; restart?: unknown }) : {};
    if (p.restart === true) {
      this.baseline.restart(this.now());
      this.saveBaseline();
      return { status: 200, payload: this.baseline.summary(this.now()) };
    }
    if (typeof p.category !== 'string' || !(BASELINE_CATEGORIES as readonly string[]).includes(p.category) || typeof p.value !== 'string' || p.value.length > 1024) {
      return { status: 400, payload: { error: `payload must be {"category": one of ${BASELINE_CATEGORIES.join(', ')}, "value": "<the alert's DetectionKey>"} or {"restart": true}` } };
    }
    this.acceptBaseline(p.category, p.value);
    this.saveBaseline();
    return { status: 200, payload: this.baseline.summary(this.now()) };
  }

  /** Accepts a value given as the alert's DetectionKey (value fields then scope fields, '|'-joined). */
  private acceptBaseline(category: string, key: string): void {
    for (const rule of this.engine.catalogue()) {
      const f = rule.firstSeen;
      if (!f || f.baseline !== category) continue;
      const parts = key.split('|');
      const value = parts.slice(0, f.value.names.length).join('|');
      const scope = parts.slice(f.value.names.length).join('|');
      this.baseline.accept(category, `${scope}\0${value}`);
    }
  }

  /** For the twin's status section: what runs, what is wrong, where learning stands. */
  status(): { enabled: boolean; rules: number; rulesProblem: string; learning: boolean; learningEndsAt: string } {
    const baseline = this.baseline.summary(this.now());
    return { enabled: this.enabled, rules: this.engine.catalogue().length, rulesProblem: this.rulesProblem ?? '', learning: baseline.learning, learningEndsAt: baseline.learningEndsAt };
  }

  alertCounts(): Array<{ rule: string; severity: string; count: number }> {
    return [...this.counts.values()];
  }

  catalogue(): readonly CompiledRule[] {
    return this.engine.catalogue();
  }
}
