import winston from 'winston';
import { escapeControl } from './text-escape';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogDetails = Record<string, unknown>;

/** Patterns of secrets that must never reach a log line, whatever a caller passes in. */
const SECRET_PATTERNS: readonly RegExp[] = [
  /(SharedAccessKey|AccountKey|SharedAccessSignature|Password|sig)=([^;&\s"]+)/gi,
  /(\/\/[^/\s:@]+:)([^@\s/]+)@/g,
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, (_m, key: string) => `${key}${key.endsWith(':') ? '' : '='}***${key.endsWith(':') ? '@' : ''}`);
  return out;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text ?? '') ? JSON.stringify(text) : String(text);
}

/**
 * One line per entry, as `iotedge logs` shows it:
 * `2026-11-22T07:01:02.003Z INFO  [transport] connected host=localhost:8883`.
 */
const lineFormat = winston.format.printf((info) => {
  const { level, message, timestamp, component, ...rest } = info as winston.Logform.TransformableInfo & {
    timestamp: string;
    component?: string;
  };
  const details = Object.entries(rest)
    .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const line = `${timestamp} ${level.toUpperCase().padEnd(5)} [${component ?? 'edgeguard'}] ${String(message)}${details ? ' ' + details : ''}`;
  // One entry, one line: control characters from input (a file name, a twin key) are shown as escapes,
  // so they can neither forge a log line nor drive the terminal of whoever reads `iotedge logs`.
  return escapeControl(redactSecrets(line));
});

const ALL_LEVELS: LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** stderr by default: in standalone mode stdout carries only the messages, one JSON per line. */
function consoleTransport(destination: LogDestination): winston.transport {
  return new winston.transports.Console({ stderrLevels: destination === 'stderr' ? ALL_LEVELS : [] });
}

const root = winston.createLogger({
  level: levelFromEnvironment(),
  format: winston.format.combine(winston.format.timestamp(), lineFormat),
  transports: [consoleTransport('stderr')],
});

export type LogDestination = 'stdout' | 'stderr';

/** stdout as an IoT Edge module (what `iotedge logs` shows); stderr standalone, where stdout carries the messages. */
export function setLogDestination(destination: LogDestination): void {
  root.clear();
  root.add(consoleTransport(destination));
}

/** IoT Edge's RuntimeLogLevel uses its own names (verbose, warning, fatal…). */
export function levelFromEnvironment(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = (env.EDGEGUARD_LOG_LEVEL ?? env.RuntimeLogLevel ?? 'info').toLowerCase();
  if (raw === 'verbose' || raw === 'debug' || raw === 'trace') return 'debug';
  if (raw === 'warning' || raw === 'warn') return 'warn';
  if (raw === 'error' || raw === 'fatal') return 'error';
  return 'info';
}

export function setLogLevel(level: LogLevel): void {
  root.level = level;
}

export interface Logger {
  error(message: string, details?: LogDetails): void;
  warn(message: string, details?: LogDetails): void;
  info(message: string, details?: LogDetails): void;
  debug(message: string, details?: LogDetails): void;
  child(component: string): Logger;
}

export function getLogger(component: string): Logger {
  const make = (c: string): Logger => {
    const log = (level: LogLevel) => (message: string, details: LogDetails = {}) => root.log(level, message, { ...details, component: c });
    return { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), child: (sub) => make(`${c}/${sub}`) };
  };
  return make(component);
}
