import { randomUUID } from 'node:crypto';
import { createEvent, type PayloadItem, type SecurityEvent } from '../core/event';
import { alertItem, detectionKeyText, entityOf, type AlertItem, type AlertState } from './alert';
import type { Baseline } from './baseline';
import { evidenceEntry, MAX_EVIDENCE_ITEMS, type EvidenceEntry } from './evidence';
import { isExcepted, type RuleException } from './exceptions';
import { containerId, DERIVED_FIELDS, type ContainerContext, type EventView } from './fields';
import { GATE_FIELDS, type GateField } from './gates';
import type { AlertSeverity, CompiledRule, KeyedFields } from './model';

export const ALERT_EVENT = 'SecurityAlert';
export const RECOMMENDATION_EVENT = 'SecurityRecommendation';
const HOUR_MS = 3_600_000;
/** Open detection windows, threshold and sequence keys kept at most (per kind); the oldest go first. */
export const MAX_OPEN_KEYS = 10_000;
const MAX_CONTAINERS = 4_096;
const CANDIDATE_CACHE = 4_096;

export type Emit = (event: SecurityEvent) => void;

/** What the operator set (twin), applied live. */
export interface EngineTuning {
  disabled: ReadonlySet<string>;
  severity: ReadonlyMap<string, AlertSeverity>;
  exceptions: readonly RuleException[];
  /** Numeric settings range rules name as bounds. */
  numbers: ReadonlyMap<string, number>;
}

export const NO_TUNING: EngineTuning = { disabled: new Set(), severity: new Map(), exceptions: [], numbers: new Map() };

export interface EngineHooks {
  /** Called for every alert item sent (New and Update), after it went to emit. */
  onAlert?(item: AlertItem): void;
  /** A rule hit its hourly limit (once per hour per rule). */
  onRateLimited?(rule: CompiledRule): void;
}

interface RateState {
  hourStart: number;
  sent: number;
  suppressed: number;
}

interface RangeState {
  windowStart: number;
  count: number;
  firedHigh: boolean;
  evidence: EvidenceEntry[];
  first?: EventView;
}

/**
 * The detection engine: sees every raw event (observe), never changes or holds it, and emits
 * SecurityAlert / SecurityRecommendation events through `emit`. tick() closes windows (call it every
 * second or so). All state is bounded (MAX_OPEN_KEYS per kind).
 */
export class DetectionEngine {
  private byEvent = new Map<string, CompiledRule[]>();
  /** ProcessCreate rules with a gate, by gate field and value; the others are in ungatedProcess. */
  private gated = new Map<GateField, Map<string, CompiledRule[]>>();
  private ungatedProcess: CompiledRule[] = [];
  private readonly ruleOrder = new Map<CompiledRule, number>();
  private readonly candidateCache = new Map<string, CompiledRule[]>();
  private readonly exeNameField = DERIVED_FIELDS[GATE_FIELDS[0]]!.get;
  private readonly arg0NameField = DERIVED_FIELDS[GATE_FIELDS[1]]!.get;
  private byId = new Map<string, CompiledRule>();
  /** Sequence rules with at least one first step recorded (cleared when the first steps have expired, in tick). */
  private readonly pendingSequence = new Set<string>();
  private seqByEvent = new Map<string, Array<{ rule: CompiledRule; step: number }>>();
  private readonly open = new Map<string, AlertState>();
  private readonly threshold = new Map<string, number[]>();
  private readonly thresholdEvidence = new Map<string, EvidenceEntry>();
  private readonly sequences = new Map<string, { times: number[]; first: EvidenceEntry; entity: ReturnType<typeof entityOf> }>();
  private readonly ranges = new Map<string, RangeState>();
  private readonly rates = new Map<string, RateState>();
  private readonly recommendationState = new Map<string, { firstSeen: number; count: number; lastSnapshot: string }>();
  private readonly containers = new Map<string, ContainerContext>();
  private tuning: EngineTuning = NO_TUNING;
  private activeLists = new Set<string>();
  private rules: CompiledRule[] = [];
  observed = 0;

  constructor(
    rules: readonly CompiledRule[],
    private readonly now: () => number,
    private readonly baseline?: Baseline,
    private readonly hooks: EngineHooks = {},
  ) {
    this.setRules(rules);
  }

  /** Replaces the rules (reload, new operator lists); open windows of removed rules are dropped. */
  setRules(rules: readonly CompiledRule[], nonEmptyLists: ReadonlySet<string> = this.activeLists): void {
    this.rules = [...rules];
    this.activeLists = new Set(nonEmptyLists);
    this.index();
  }

  setTuning(tuning: EngineTuning): void {
    this.tuning = tuning;
    this.index();
  }

  catalogue(): readonly CompiledRule[] {
    return this.rules;
  }

  /** Sizes of the engine's state, for diagnostics and the bounds tests. */
  stateSizes(): Record<'open' | 'threshold' | 'sequences' | 'recommendations' | 'containers', number> {
    return { open: this.open.size, threshold: this.threshold.size, sequences: this.sequences.size, recommendations: this.recommendationState.size, containers: this.containers.size };
  }

  private index(): void {
    this.byEvent = new Map();
    this.seqByEvent = new Map();
    this.gated = new Map(GATE_FIELDS.map((f) => [f, new Map<string, CompiledRule[]>()]));
    this.ungatedProcess = [];
    this.ruleOrder.clear();
    this.candidateCache.clear();
    this.byId = new Map(this.rules.map((r) => [r.id, r]));
    this.rules.forEach((r, i) => this.ruleOrder.set(r, i));
    for (const rule of this.rules) {
      if (!rule.enabled || this.tuning.disabled.has(rule.id)) continue;
      if (rule.requiresList !== undefined && !this.activeLists.has(rule.requiresList)) continue;
      // A range rule whose bounds are settings runs once the operator set one of them.
      if (rule.range && (rule.range.minSetting || rule.range.maxSetting) && !this.hasBound(rule)) continue;
      if (rule.sequence) {
        rule.sequence.steps.forEach((s, step) => {
          for (const e of s.events) this.push(this.seqByEvent, e, { rule, step });
        });
      } else for (const e of rule.events) this.push(this.byEvent, e, rule);
      if (!rule.sequence && rule.events.length === 1 && rule.events[0] === 'ProcessCreate') {
        if (rule.gate) {
          for (const { field, values } of rule.gate) for (const v of new Set(values)) this.push(this.gated.get(field)!, v, rule);
        } else this.ungatedProcess.push(rule);
      }
    }
  }

  /**
   * The ProcessCreate rules that can match this item: the ungated ones and those its names open, in
   * catalogue order. Cached per (ExecutableName, Arg0Name) pair: a device runs few distinct programs.
   */
  private processCandidates(view: EventView): readonly CompiledRule[] {
    const exeName = this.exeNameField(view);
    const arg0Name = this.arg0NameField(view);
    const cacheKey = `${String(exeName)}\0${String(arg0Name)}`;
    const cached = this.candidateCache.get(cacheKey);
    if (cached) return cached;
    const names = [exeName, arg0Name];
    const set = new Set<CompiledRule>(this.ungatedProcess);
    GATE_FIELDS.forEach((field, i) => {
      const value = names[i];
      if (typeof value === 'string') for (const r of this.gated.get(field)!.get(value) ?? []) set.add(r);
    });
    const out = [...set].sort((a, b) => this.ruleOrder.get(a)! - this.ruleOrder.get(b)!);
    if (this.candidateCache.size >= CANDIDATE_CACHE) this.candidateCache.clear();
    this.candidateCache.set(cacheKey, out);
    return out;
  }

  private push<T>(map: Map<string, T[]>, key: string, value: T): void {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  }

  /** Judges one event. Never throws for a rule's sake: a failing rule is skipped for this event. */
  observe(event: SecurityEvent, emit: Emit): void {
    this.observed++;
    const time = this.now();
    this.learnContainer(event);
    const rules = this.byEvent.get(event.Name);
    const seq = this.seqByEvent.get(event.Name);
    if (!rules && !seq) return;
    const recommendations: PayloadItem[] = [];
    for (const item of event.Payload) {
      const cid = item.ContainerId ?? item.ExtraDetails?.ContainerId;
      const view: EventView = { event, item, time, container: typeof cid === 'string' ? this.containers.get(cid) : undefined };
      if (rules) {
        const applicable = event.Name === 'ProcessCreate' ? this.processCandidates(view) : rules;
        for (const rule of applicable) {
          if (!rule.predicate(view)) continue;
          if (this.tuning.exceptions.length > 0 && isExcepted(this.tuning.exceptions, rule.id, view)) continue;
          if (rule.kind === 'recommendation') recommendations.push(this.recommend(rule, view, event));
          else this.matched(rule, view, emit);
        }
      }
      if (seq) for (const { rule, step } of seq) this.sequenceStep(rule, step, view, emit);
    }
    if ((event.Category === 'Periodic' || recommendations.length > 0) && (rules ?? []).some((r) => r.kind === 'recommendation')) {
      emit(createEvent(RECOMMENDATION_EVENT, 'Periodic', recommendations, { now: new Date(time) }));
    }
  }

  /** Closes expired windows: sends the count of every detection seen more than once, range checks. */
  tick(emit: Emit): void {
    const now = this.now();
    if (this.pendingSequence.size > 0) {
      this.pendingSequence.clear();
      for (const [key, state] of this.sequences) {
        const id = key.slice(0, key.indexOf('\0'));
        const rule = this.byId.get(id);
        const last = state.times[state.times.length - 1];
        if (!rule?.sequence || last === undefined || now - last > rule.sequence.withinMs) this.sequences.delete(key);
        else this.pendingSequence.add(id);
      }
    }
    for (const [key, state] of this.open) {
      if (state.windowEnd > now) continue;
      this.open.delete(key);
      if (state.count > state.sentCount) this.send(state, 'Update', emit);
    }
    for (const [id, r] of this.ranges) {
      const rule = this.byId.get(id);
      if (!rule?.range) {
        this.ranges.delete(id);
        continue;
      }
      if (now - r.windowStart < rule.range.withinMs) continue;
      const min = this.bound(rule.range.minSetting, rule.range.min);
      if (r.count < min && !r.firedHigh) {
        const state = this.newState(rule, `below ${min}: ${r.count}`, r.first, r.evidence, now);
        state.count = 1;
        this.fire(state, emit);
      }
      this.ranges.set(id, { windowStart: now, count: 0, firedHigh: false, evidence: [] });
    }
  }

  /** Every window open now is sent (stop, flush). */
  closeAll(emit: Emit): void {
    for (const state of this.open.values()) if (state.count > state.sentCount) this.send(state, 'Update', emit);
    this.open.clear();
  }

  private hasBound(rule: CompiledRule): boolean {
    const r = rule.range!;
    return (r.minSetting !== undefined && (this.tuning.numbers.get(r.minSetting) ?? 0) > 0) || (r.maxSetting !== undefined && (this.tuning.numbers.get(r.maxSetting) ?? 0) > 0);
  }

  private bound(setting: string | undefined, fallback: number): number {
    const value = setting === undefined ? undefined : this.tuning.numbers.get(setting);
    return value !== undefined && value > 0 ? value : fallback;
  }

  private learnContainer(event: SecurityEvent): void {
    if (event.Name !== 'ContainerActivity' && event.Name !== 'ContainerInventory') return;
    for (const item of event.Payload) {
      if (typeof item.ContainerId !== 'string') continue;
      if (item.Action === 'destroy') {
        this.containers.delete(item.ContainerId);
        continue;
      }
      const prev = this.containers.get(item.ContainerId);
      const next: ContainerContext = {
        id: item.ContainerId,
        name: typeof item.ContainerName === 'string' ? item.ContainerName : prev?.name,
        image: typeof item.Image === 'string' ? item.Image : prev?.image,
        module: typeof item.ModuleName === 'string' ? item.ModuleName : prev?.module,
      };
      this.containers.delete(item.ContainerId);
      this.containers.set(item.ContainerId, next);
      // Also reachable by the 12-digit short ID processes may carry.
      if (this.containers.size > MAX_CONTAINERS) this.containers.delete(this.containers.keys().next().value!);
    }
  }

  private keyOf(fields: KeyedFields, view: EventView): string {
    const get = fields.get;
    if (get.length === 0) return '';
    if (get.length === 1) {
      const v = get[0]!(view);
      if (typeof v === 'string' && v.length <= 256) return v;
    }
    return detectionKeyText(get.map((g) => g(view)));
  }

  private matched(rule: CompiledRule, view: EventView, emit: Emit): void {
    switch (rule.kind) {
      case 'match':
        this.detect(rule, this.keyOf(rule.key, view), view, () => [evidenceEntry(view.event.Name, view.time, view.item)], emit);
        return;
      case 'threshold': {
        const t = rule.threshold!;
        const groupKey = `${rule.id}\0${this.keyOf(t.by, view)}`;
        let times = this.threshold.get(groupKey);
        if (!times) {
          times = [];
          this.bounded(this.threshold, groupKey, times);
          this.thresholdEvidence.set(groupKey, evidenceEntry(view.event.Name, view.time, view.item));
        }
        while (times.length > 0 && view.time - times[0]! > t.withinMs) times.shift();
        if (times.length === 0) this.thresholdEvidence.set(groupKey, evidenceEntry(view.event.Name, view.time, view.item));
        times.push(view.time);
        if (times.length >= t.count) {
          const first = this.thresholdEvidence.get(groupKey)!;
          this.threshold.delete(groupKey);
          this.thresholdEvidence.delete(groupKey);
          this.detect(rule, this.keyOf(t.by, view), view, () => [first, evidenceEntry(view.event.Name, view.time, view.item)], emit, t.count);
        }
        return;
      }
      case 'first-seen': {
        if (!this.baseline) return;
        const f = rule.firstSeen!;
        const value = `${this.keyOf(f.scope, view)}\0${this.keyOf(f.value, view)}`;
        if (this.baseline.observe(f.baseline, value, view.time) === 'new') {
          this.detect(rule, this.keyOf(rule.key, view), view, () => [evidenceEntry(view.event.Name, view.time, view.item)], emit);
        }
        return;
      }
      case 'range': {
        const r = rule.range!;
        let state = this.ranges.get(rule.id);
        if (!state) this.ranges.set(rule.id, (state = { windowStart: view.time, count: 0, firedHigh: false, evidence: [] }));
        state.count++;
        state.first ??= view;
        if (state.evidence.length < MAX_EVIDENCE_ITEMS) state.evidence.push(evidenceEntry(view.event.Name, view.time, view.item));
        const max = this.bound(r.maxSetting, r.max);
        if (state.count > max && !state.firedHigh) {
          state.firedHigh = true;
          this.fire(this.newState(rule, `above ${max}`, view, state.evidence.slice(), view.time), emit);
        }
        return;
      }
      default:
    }
  }

  private sequenceStep(rule: CompiledRule, step: number, view: EventView, emit: Emit): void {
    const seq = rule.sequence!;
    // The second step matters only while a first step waits: most events stop here, keyless.
    if (step === 1 && !this.pendingSequence.has(rule.id)) return;
    const s = seq.steps[step]!;
    if (!s.predicate(view)) return;
    const stepKey = this.keyOf(s.by, view);
    if (stepKey.replace(/\|/g, '') === '') return;
    const key = `${rule.id}\0${stepKey}`;
    if (step === 0) {
      let state = this.sequences.get(key);
      if (!state) {
        state = { times: [], first: evidenceEntry(view.event.Name, view.time, view.item), entity: entityOf(view) };
        this.bounded(this.sequences, key, state);
        this.pendingSequence.add(rule.id);
      }
      while (state.times.length > 0 && view.time - state.times[0]! > seq.withinMs) state.times.shift();
      if (state.times.length === 0) state.first = evidenceEntry(view.event.Name, view.time, view.item);
      state.times.push(view.time);
      if (state.times.length > seq.steps[0]!.count) state.times.shift();
      return;
    }
    if (this.tuning.exceptions.length > 0 && isExcepted(this.tuning.exceptions, rule.id, view)) return;
    const state = this.sequences.get(key);
    if (!state) return;
    const recent = state.times.filter((t) => view.time - t <= seq.withinMs);
    if (recent.length < seq.steps[0]!.count) return;
    this.sequences.delete(key);
    const first = state.first;
    this.detect(rule, stepKey, view, () => [first, evidenceEntry(view.event.Name, view.time, view.item)], emit, recent.length + 1);
  }

  private bounded<T>(map: Map<string, T>, key: string, value: T): void {
    map.set(key, value);
    if (map.size > MAX_OPEN_KEYS) map.delete(map.keys().next().value!);
  }

  private newState(rule: CompiledRule, key: string, view: EventView | undefined, evidence: EvidenceEntry[], now: number): AlertState {
    return {
      alertId: randomUUID(),
      rule,
      severity: this.tuning.severity.get(rule.id) ?? rule.severity,
      key,
      entity: view ? entityOf(view) : {},
      evidence: evidence.slice(0, MAX_EVIDENCE_ITEMS),
      firstSeen: now,
      lastSeen: now,
      count: 1,
      sentCount: 0,
      windowEnd: now + rule.windowMs,
    };
  }

  /** One detection: a new alert, or one more in the open window of the same rule and key. */
  private detect(rule: CompiledRule, key: string, view: EventView, makeEvidence: () => EvidenceEntry[], emit: Emit, count = 1): void {
    const openKey = `${rule.id}\0${key}`;
    const existing = this.open.get(openKey);
    if (existing && existing.windowEnd > view.time) {
      existing.count += count;
      existing.lastSeen = view.time;
      if (existing.evidence.length < MAX_EVIDENCE_ITEMS) {
        const evidence = makeEvidence();
        existing.evidence.push(evidence[evidence.length - 1]!);
      }
      return;
    }
    const evidence = makeEvidence();
    if (existing) {
      this.open.delete(openKey);
      if (existing.count > existing.sentCount) this.send(existing, 'Update', emit);
    }
    const state = this.newState(rule, key, view, evidence, view.time);
    state.count = count;
    state.firstSeen = Date.parse(evidence[0]!.TimestampUTC);
    this.open.set(openKey, state);
    if (this.open.size > MAX_OPEN_KEYS) {
      const [oldestKey, oldest] = this.open.entries().next().value!;
      this.open.delete(oldestKey);
      if (oldest.count > oldest.sentCount) this.send(oldest, 'Update', emit);
    }
    this.send(state, 'New', emit);
  }

  private fire(state: AlertState, emit: Emit): void {
    this.send(state, 'New', emit);
  }

  private send(state: AlertState, status: 'New' | 'Update', emit: Emit): void {
    const now = this.now();
    let rate = this.rates.get(state.rule.id);
    if (!rate || now - rate.hourStart >= HOUR_MS) {
      rate = { hourStart: now, sent: 0, suppressed: rate?.suppressed ?? 0 };
      this.rates.set(state.rule.id, rate);
    }
    if (rate.sent >= state.rule.maxPerHour) {
      if (rate.suppressed === 0) this.hooks.onRateLimited?.(state.rule);
      rate.suppressed++;
      state.sentCount = state.count;
      return;
    }
    rate.sent++;
    const suppressed = rate.suppressed;
    rate.suppressed = 0;
    state.sentCount = state.count;
    const item = alertItem(state, status, suppressed);
    emit(createEvent(ALERT_EVENT, 'Triggered', [item], { now: new Date(now) }));
    this.hooks.onAlert?.(item);
  }

  private recommend(rule: CompiledRule, view: EventView, event: SecurityEvent): PayloadItem {
    const key = this.keyOf(rule.key, view);
    const stateKey = `${rule.id}\0${key}`;
    const state = this.recommendationState.get(stateKey) ?? { firstSeen: view.time, count: 0, lastSnapshot: '' };
    if (state.lastSnapshot !== event.Id) state.count++;
    state.lastSnapshot = event.Id;
    this.bounded(this.recommendationState, stateKey, state);
    return {
      RuleId: rule.id,
      RuleName: rule.name,
      Severity: this.tuning.severity.get(rule.id) ?? recommendationSeverity(rule, view),
      ...(rule.tactic ? { Tactic: rule.tactic } : {}),
      ...(rule.technique ? { Technique: rule.technique } : {}),
      Description: rule.description,
      Remediation: rule.remediation,
      Tags: rule.tags.slice(0, 16),
      Source: event.Name === 'ConfigurationError' ? 'Configuration' : event.Name,
      DetectionKey: key,
      Entity: entityOf(view),
      Evidence: [evidenceEntry(event.Name, view.time, view.item)],
      FirstSeen: new Date(state.firstSeen).toISOString(),
      LastSeen: new Date(view.time).toISOString(),
      Count: state.count,
    };
  }
}

/**
 * Deployment manifest findings keep their own scale; on the alert scale Critical and High are High,
 * Medium is Medium, Low and Info are Low. Other recommendations have their rule's severity.
 */
export function recommendationSeverity(rule: CompiledRule, view: EventView): AlertSeverity {
  if (view.event.Name !== 'DeploymentManifestAnalysis') return rule.severity;
  return manifestSeverity(view.item.Severity);
}

export function manifestSeverity(severity: unknown): AlertSeverity {
  if (severity === 'Critical' || severity === 'High') return 'High';
  if (severity === 'Medium') return 'Medium';
  return 'Low';
}

export { containerId };
