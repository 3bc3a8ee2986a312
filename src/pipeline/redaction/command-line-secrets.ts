import type { PayloadItem, SecurityEvent } from '../../core/event';
import { catalogue } from '../../rules/catalogue';
import { isKeyName, isSecretName } from '../../rules/checks/secrets';

/**
 * Removes secrets typed on command lines (`--password x`, `TOKEN=x cmd`, `mysql -px`, credentials in
 * URLs, connection-string keys, Authorization headers) before an event is queued: EdgeGuard says a
 * secret was there (ExtraDetails CommandLineRedacted), never what it was. Secret names come from the
 * same catalogue data as the manifest rules (S02, S03, S04).
 */

export const REDACTED = '***';
/** Payload fields that hold a command line: ProcessCreate/ConnectionCreate, ContainerActivity exec. */
const COMMAND_FIELDS = ['CommandLine', 'Command'] as const;
/** Flags named like a secret that take no secret value: `docker login --password-stdin`. */
const VALUELESS_FLAG_SUFFIXES = ['stdin', 'prompt', 'length', 'policy', 'required', 'timeout', 'interval'];
/** Programs whose `-p` is followed by a password, attached (`mysql -psecret`) or as the next word. */
const ATTACHED_PASSWORD_FLAG = new Set(['mysql', 'mysqldump', 'mysqladmin', 'mariadb', 'mariadb-dump']);
const SEPARATE_PASSWORD_FLAG = new Set(['sshpass']);
const OPTION = /^(--?)([A-Za-z][\w.-]*?)(=(.*))?$/;
const ASSIGNMENT = /^([A-Za-z_][\w.-]*)=(.+)$/;
const AUTHORIZATION = /(authorization:\s*[A-Za-z]+\s+)([^\s"']+)/gi;
/** Cheap first look: a command line with none of these cannot hold anything redactable. */
const MAYBE_SECRET = /[=:]|-p|pass|pwd|secret|token|key|cred|sig/i;

/** Option and variable names repeat from one command to the next: remember the verdicts (bounded). */
const nameVerdicts = new Map<string, boolean>();
const NAME_VERDICTS_LIMIT = 4096;

function secretName(name: string): boolean {
  const known = nameVerdicts.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  const verdict = !VALUELESS_FLAG_SUFFIXES.some((s) => lower.endsWith(s)) && (isSecretName(name) || isKeyName(name));
  if (nameVerdicts.size >= NAME_VERDICTS_LIMIT) nameVerdicts.clear();
  nameVerdicts.set(name, verdict);
  return verdict;
}

function unquote(word: string): { quote: string; inner: string } {
  const quote = word[0] === '"' || word[0] === "'" ? word[0] : '';
  return { quote, inner: quote && word.endsWith(quote) && word.length > 1 ? word.slice(1, -1) : word.slice(quote.length) };
}

function program(words: readonly string[]): string {
  const first = words.find((w) => w.trim() !== '') ?? '';
  return first.slice(first.lastIndexOf('/') + 1);
}

/** Word by word: option values and NAME=value assignments with secret names, and the -p of known programs. */
function redactWords(text: string): string {
  const parts = text.split(/(\s+)/);
  const prog = program(parts);
  let redactNext = false;
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i]!;
    if (word === '') continue;
    const { quote, inner } = unquote(word);
    if (redactNext && !inner.startsWith('-')) {
      parts[i] = `${quote}${REDACTED}${quote}`;
      redactNext = false;
      continue;
    }
    redactNext = false;
    if (ATTACHED_PASSWORD_FLAG.has(prog) && /^-p.+/.test(inner)) {
      parts[i] = `${quote}-p${REDACTED}${quote}`;
      continue;
    }
    if (SEPARATE_PASSWORD_FLAG.has(prog) && inner === '-p') {
      redactNext = true;
      continue;
    }
    const option = OPTION.exec(inner);
    if (option && secretName(option[2]!)) {
      if (option[3] === undefined) redactNext = true;
      else if (option[4] !== '') parts[i] = `${quote}${option[1]}${option[2]}=${REDACTED}${quote}`;
      continue;
    }
    const assignment = option ? undefined : ASSIGNMENT.exec(inner);
    if (assignment && secretName(assignment[1]!)) parts[i] = `${quote}${assignment[1]}=${REDACTED}${quote}`;
  }
  return parts.join('');
}

interface TextPatterns {
  keyValues: RegExp[];
  urlCredentials: RegExp;
}
let textPatterns: TextPatterns | undefined;

/** The catalogue's S02/S04 patterns, made global once. */
function patterns(): TextPatterns {
  if (!textPatterns) {
    const secrets = catalogue().secrets;
    const global = (r: RegExp): RegExp => new RegExp(r.source, r.flags.includes('g') ? r.flags : `${r.flags}g`);
    textPatterns = { keyValues: secrets.connectionStringKeys.map((c) => global(c.pattern)), urlCredentials: global(secrets.urlCredentials) };
  }
  return textPatterns;
}

/** Patterns anywhere in the text: connection-string keys and SAS signatures, URL credentials, Authorization headers. */
function redactPatterns(text: string): string {
  const { keyValues, urlCredentials } = patterns();
  let out = text;
  // Each pattern needs a character that most command lines lack: test for it before running the regex.
  if (out.includes('=') || /SharedAccessSignature/i.test(out)) {
    for (const pattern of keyValues) out = out.replace(pattern, (match: string, value: string) => match.replace(value, REDACTED));
  }
  if (out.includes('@') && out.includes('://')) {
    out = out.replace(urlCredentials, (_m: string, scheme: string, user: string) => `${scheme}://${user}:${REDACTED}@`);
  }
  if (/authorization:/i.test(out)) out = out.replace(AUTHORIZATION, (_m: string, prefix: string) => `${prefix}${REDACTED}`);
  return out;
}

/** The command line with its secrets replaced by `***` (the same string when there is none). */
export function redactCommandLine(commandLine: string): string {
  if (!MAYBE_SECRET.test(commandLine)) return commandLine;
  return redactPatterns(redactWords(commandLine));
}

function redactItem(item: PayloadItem): PayloadItem {
  let out: PayloadItem | undefined;
  for (const field of COMMAND_FIELDS) {
    const value = item[field];
    if (typeof value !== 'string') continue;
    const clean = redactCommandLine(value);
    if (clean === value) continue;
    out ??= { ...item };
    out[field] = clean;
    out.ExtraDetails = { ...item.ExtraDetails, CommandLineRedacted: 'true' };
  }
  // The kernel sensor's ProcessCreate context carries the parent's command line too.
  const parent = item.ExtraDetails?.ParentCommandLine;
  if (typeof parent === 'string') {
    const clean = redactCommandLine(parent);
    if (clean !== parent) {
      out ??= { ...item };
      out.ExtraDetails = { ...out.ExtraDetails, ParentCommandLine: clean, CommandLineRedacted: 'true' };
    }
  }
  return out ?? item;
}

/** The event with secrets removed from its command lines; the same object when nothing changed. */
export function redactEventCommandLines(event: SecurityEvent): SecurityEvent {
  let payload: PayloadItem[] | undefined;
  event.Payload.forEach((item, i) => {
    const clean = redactItem(item);
    if (clean === item) return;
    payload ??= [...event.Payload];
    payload[i] = clean;
  });
  return payload ? { ...event, Payload: payload } : event;
}
