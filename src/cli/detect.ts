import path from 'node:path';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import type { AlertItem } from '../detections/alert';
import type { SecurityEvent } from '../core/event';
import { DetectionEngine } from '../detections/engine';
import { compileRules, shippedRuleSources, type RuleSource } from '../detections/loader';
import { MAX_LINE_CHARS, parseRecordedLine } from '../detections/recorded-messages';
import { readUserRulesFile } from '../detections/user-rules';
import type { CompiledRule } from '../detections/model';
import type { CliIO } from './scan';
import { deviceLabel, isAvroExport, readExportFile, wellFormedEvents } from '../fleet/export/index';

export const DETECT_HELP = `Usage: edgeguard detect <file>... [options]

Runs the on-device detection rules over recorded security messages: one JSON message per line, as
EdgeGuard sends them or as an IoT Hub route exports them (body as JSON, base64, or under Body/body).
Windows, thresholds and sequences use the events' own timestamps. First-seen (baseline) rules do not
run offline.

Options:
  --format <text|json|sarif>   Output format (default text)
  --rules <file>               A rules file of your own, added to the shipped rules
  -h, --help                   This help

Exit status: 0 no alert, 1 alerts, 2 usage or input error. Documentation: docs/detections.md.
`;

interface DetectArgs {
  files: string[];
  format: 'text' | 'json' | 'sarif';
  rules?: string;
  help: boolean;
}

export function parseDetectArgs(argv: readonly string[]): DetectArgs {
  const out: DetectArgs = { files: [], format: 'text', help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') out.help = true;
    else if (a === '--format' || a.startsWith('--format=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'text' && v !== 'json' && v !== 'sarif') throw new Error(`--format must be text, json or sarif`);
      out.format = v;
    } else if (a === '--rules' || a.startsWith('--rules=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new Error('--rules needs a file');
      out.rules = v;
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else out.files.push(a);
  }
  return out;
}

export interface DetectedAlert {
  file: string;
  line: number;
  device?: string;
  alert: AlertItem;
}

export interface DetectResult {
  alerts: DetectedAlert[];
  messages: number;
  events: number;
  badLines: Array<{ file: string; line: number; reason: string }>;
  rules: readonly CompiledRule[];
}

/** Runs the engine over the files, in order, one engine per device so windows never mix devices. */
export async function detectFiles(files: readonly string[], extraRules?: RuleSource): Promise<DetectResult> {
  const { rules } = compileRules([...shippedRuleSources(), ...(extraRules ? [extraRules] : [])]);
  const result: DetectResult = { alerts: [], messages: 0, events: 0, badLines: [], rules };
  const engines = new Map<string, { engine: DetectionEngine; clock: { t: number; lastTick: number } }>();
  let where = { file: '', line: 0, device: undefined as string | undefined };
  const emit = (e: { Name: string; Payload: unknown[] }): void => {
    if (e.Name !== 'SecurityAlert') return;
    for (const p of e.Payload) result.alerts.push({ file: where.file, line: where.line, device: where.device, alert: p as AlertItem });
  };
  const observeMessage = (message: { events: SecurityEvent[]; device?: string }, file: string, n: number): void => {
    result.messages++;
    const device = message.device ?? '';
    let entry = engines.get(device);
    if (!entry) {
      const clock = { t: 0, lastTick: 0 };
      entry = { engine: new DetectionEngine(rules, () => clock.t), clock };
      engines.set(device, entry);
    }
    where = { file, line: n, device: message.device };
    for (const event of message.events) {
      const t = Date.parse(String(event.TimestampUTC));
      if (Number.isFinite(t) && t > entry.clock.t) entry.clock.t = t;
      result.events++;
      entry.engine.observe(event, emit);
      if (entry.clock.t - entry.clock.lastTick >= 1000) {
        entry.clock.lastTick = entry.clock.t;
        entry.engine.tick(emit);
      }
    }
  };
  for (const file of files) {
    if (await isAvroExport(file)) {
      // Event Hubs Capture or IoT Hub storage Avro (src/fleet/export): "line" is the record number.
      let n = 0;
      try {
        for await (const m of readExportFile(file)) {
          n++;
          const { events, malformed } = wellFormedEvents<SecurityEvent>(m);
          if (malformed > 0 && result.badLines.length < 1000) result.badLines.push({ file, line: n, reason: 'an event has no Name or Payload' });
          if (malformed === 0) observeMessage({ events, device: deviceLabel(m) }, file, n);
        }
      } catch (err) {
        result.badLines.push({ file, line: n + 1, reason: (err as Error).message.slice(0, 200) });
      }
      continue;
    }
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 }), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      if (line.length > MAX_LINE_CHARS) {
        result.badLines.push({ file, line: n, reason: `line longer than ${MAX_LINE_CHARS} characters` });
        continue;
      }
      let message;
      try {
        message = parseRecordedLine(line);
      } catch (err) {
        if (result.badLines.length < 1000) result.badLines.push({ file, line: n, reason: (err as Error).message.slice(0, 200) });
        continue;
      }
      observeMessage(message, file, n);
    }
  }
  for (const { engine } of engines.values()) engine.closeAll(emit);
  return result;
}

const SARIF_LEVEL: Record<string, string> = { High: 'error', Medium: 'warning', Low: 'note' };
const SECURITY_SEVERITY: Record<string, string> = { High: '8.0', Medium: '5.5', Low: '3.0' };

export function formatDetectSarif(result: DetectResult, version: string): string {
  const rules = result.rules.filter((r) => r.kind !== 'recommendation');
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return `${JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: 'EdgeGuard detections',
              version,
              informationUri: 'https://github.com/edgeguard/edgeguard/blob/main/docs/alerts.md',
              rules: rules.map((r) => ({
                id: r.id,
                name: r.name,
                shortDescription: { text: r.name },
                fullDescription: { text: r.description },
                help: { text: r.remediation },
                defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
                properties: { tags: [...r.tags], 'security-severity': SECURITY_SEVERITY[r.severity], tactic: r.tactic, technique: r.technique },
              })),
            },
          },
          results: result.alerts.map(({ file, line, device, alert }) => ({
            ruleId: alert.RuleId,
            ruleIndex: index.get(alert.RuleId) ?? -1,
            level: SARIF_LEVEL[alert.Severity],
            message: { text: `${alert.RuleName}${device ? ` on ${device}` : ''}: ${alert.DetectionKey} (count ${alert.Count})` },
            locations: [{ physicalLocation: { artifactLocation: { uri: encodeURI(file) }, region: { startLine: line } } }],
            partialFingerprints: { 'edgeguardAlert/v1': createHash('sha256').update(`${device ?? ''}\0${alert.RuleId}\0${alert.DetectionKey}`).digest('hex').slice(0, 32) },
            properties: { severity: alert.Severity, device, status: alert.Status, count: alert.Count, firstSeen: alert.FirstSeen, lastSeen: alert.LastSeen, entity: alert.Entity },
          })),
        },
      ],
    },
    null,
    2,
  )}\n`;
}

function formatText(result: DetectResult): string {
  const lines = result.alerts.map(({ file, line, device, alert }) => {
    const e = alert.Entity;
    const what = e.CommandLine ?? e.Executable ?? e.ContainerName ?? e.UserName ?? e.RemoteAddress ?? alert.DetectionKey;
    return `${alert.Severity.padEnd(6)} ${alert.RuleId.padEnd(13)} ${alert.RuleName}${alert.Status === 'Update' ? ` (x${alert.Count})` : ''}\n       ${device ? `${device} ` : ''}${alert.FirstSeen} ${file}:${line}\n       ${String(what).slice(0, 200)}`;
  });
  const summary = `${result.alerts.length} alert(s) from ${result.events} event(s) in ${result.messages} message(s)${result.badLines.length ? `; ${result.badLines.length} line(s) skipped` : ''}`;
  return `${[...lines, summary].join('\n')}\n`;
}

export async function runDetect(argv: readonly string[], io: CliIO, version: string): Promise<number> {
  let args: DetectArgs;
  try {
    args = parseDetectArgs(argv);
  } catch (err) {
    io.stderr(`edgeguard detect: ${(err as Error).message}\n\n${DETECT_HELP}`);
    return 2;
  }
  if (args.help) {
    io.stdout(DETECT_HELP);
    return 0;
  }
  if (args.files.length === 0) {
    io.stderr(`edgeguard detect: no file given\n\n${DETECT_HELP}`);
    return 2;
  }
  let result: DetectResult;
  try {
    const extra = args.rules ? { file: args.rules, text: readUserRulesFile(path.resolve(io.cwd, args.rules)) } : undefined;
    result = await detectFiles(args.files.map((f) => path.resolve(io.cwd, f)), extra);
  } catch (err) {
    io.stderr(`edgeguard detect: ${(err as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  for (const bad of result.badLines.slice(0, 20)) io.stderr(`edgeguard detect: ${bad.file}:${bad.line}: skipped (${bad.reason})\n`);
  if (args.format === 'json') io.stdout(`${JSON.stringify({ alerts: result.alerts, messages: result.messages, events: result.events, skippedLines: result.badLines.length }, null, 2)}\n`);
  else if (args.format === 'sarif') io.stdout(formatDetectSarif(result, version));
  else io.stdout(formatText(result));
  return result.alerts.length > 0 ? 1 : 0;
}
