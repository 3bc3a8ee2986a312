import { isKeyName, isSecretName } from '../../rules/checks/secrets';

/**
 * Removes secrets from text EdgeGuard is about to send: command lines (`--password x`, `TOKEN=x cmd`,
 * `mysql -px`, `redis-cli -a x`, `curl -u user:x`, `htpasswd -b f u x`…), credentials in URLs,
 * `name=value` / `"name": "value"` pairs with a secret-like name (connection-string keys, SAS `sig=`)
 * and Authorization headers. EdgeGuard says a secret was there, never what it was. Secret names come
 * from the same catalogue data as the manifest rules (S02, S03, S04), plus the option names below.
 *
 * Attacker-controlled text (any process can choose its command line): every step is a single forward
 * scan or a split, no backtracking regular expression, so the cost is linear in the text.
 */

export const REDACTED = '***';

/** How a program takes a secret that no option name reveals. Conventions from each tool's manual. */
interface ProgramRule {
  /** Flags followed by a secret as the next word (or after `=` for long flags). */
  readonly valueFlags?: readonly string[];
  /** Single-letter flags whose secret may also be attached: `mysql -pSECRET`, `7z -pSECRET`. */
  readonly attachedFlags?: readonly string[];
  /** Attached only (`mysql -p db` prompts and names a database; `-pX` is the password). */
  readonly attachedOnly?: boolean;
  /** Flags followed by `user<sep>secret`: `curl -u user:x`, `smbclient -U user%x`, `lftp -u user,x`. */
  readonly credentialFlags?: readonly string[];
  readonly credentialSeparator?: string;
  /** The flags above count only after this word (`docker login -p x`; `docker run -p 80:80` is a port). */
  readonly afterWord?: string;
  /** Positional secrets: after subcommand `word`, the n-th positional word (1 = the subcommand itself). */
  readonly positional?: ReadonlyArray<{ word?: string; index: number }>;
  /** Words naming a secret whose value is the next word (`nmcli … password x`, `wifi-sec.psk x`). */
  readonly keywordValues?: boolean;
  /** `htpasswd -b[…] file user password`: the last positional word is the password in batch mode. */
  readonly batchLastPositional?: string;
  /** `sqlplus user/password@db`: the first positional word holds `user/secret`. */
  readonly slashCredential?: boolean;
}

const MYSQL: ProgramRule = { attachedFlags: ['p'], attachedOnly: true };
const MONGO: ProgramRule = { valueFlags: ['-p'] };
const MOSQUITTO: ProgramRule = { valueFlags: ['-P'] };
const LDAP: ProgramRule = { valueFlags: ['-w'], attachedFlags: ['w'] };
const REGISTRY_LOGIN: ProgramRule = { valueFlags: ['-p'], afterWord: 'login' };
const SAMBA: ProgramRule = { credentialFlags: ['-U', '--user'], credentialSeparator: '%' };

const PROGRAMS: ReadonlyMap<string, ProgramRule> = new Map<string, ProgramRule>([
  ...['mysql', 'mysqldump', 'mysqladmin', 'mysqlimport', 'mysqlshow', 'mysqlcheck', 'mariadb', 'mariadb-dump', 'mariadb-admin'].map((p) => [p, MYSQL] as const),
  ...['mongo', 'mongosh', 'mongodump', 'mongorestore', 'mongoexport', 'mongoimport', 'mongostat', 'mongotop', 'mongofiles'].map((p) => [p, MONGO] as const),
  ...['mosquitto_pub', 'mosquitto_sub', 'mosquitto_rr'].map((p) => [p, MOSQUITTO] as const),
  ...['ldapsearch', 'ldapadd', 'ldapmodify', 'ldapdelete', 'ldapwhoami', 'ldapcompare', 'ldapmodrdn', 'ldapexop'].map((p) => [p, LDAP] as const),
  ['ldappasswd', { valueFlags: ['-w', '-s', '-a'], attachedFlags: ['w', 's', 'a'] }],
  ...['docker', 'podman', 'nerdctl', 'buildah', 'skopeo', 'helm', 'oras', 'crane', 'regctl', 'az'].map((p) => [p, REGISTRY_LOGIN] as const),
  ...['smbclient', 'rpcclient', 'smbmap', 'smbcacls', 'smbget', 'net'].map((p) => [p, SAMBA] as const),
  ['sshpass', { valueFlags: ['-p'], attachedFlags: ['p'] }],
  ['redis-cli', { valueFlags: ['-a'] }],
  ['openssl', { valueFlags: ['-k', '-pass', '-passin', '-passout', '-kfile-data'] }],
  ['curl', { credentialFlags: ['-u', '--user', '-U', '--proxy-user'], credentialSeparator: ':' }],
  ['lftp', { credentialFlags: ['-u', '--user'], credentialSeparator: ',' }],
  ['sqlcmd', { valueFlags: ['-P'] }],
  ['bcp', { valueFlags: ['-P'] }],
  ['ipmitool', { valueFlags: ['-P'] }],
  ['zip', { valueFlags: ['-P', '--password'] }],
  ['unzip', { valueFlags: ['-P'] }],
  ['7z', { attachedFlags: ['p'], attachedOnly: true }],
  ['7za', { attachedFlags: ['p'], attachedOnly: true }],
  ['useradd', { valueFlags: ['-p'] }],
  ['usermod', { valueFlags: ['-p'] }],
  ['htpasswd', { batchLastPositional: 'b' }],
  ['rabbitmqctl', { positional: [{ word: 'add_user', index: 3 }, { word: 'change_password', index: 3 }, { word: 'authenticate_user', index: 3 }] }],
  ['wpa_passphrase', { positional: [{ index: 2 }] }],
  ['vault', { positional: [{ word: 'login', index: 2 }] }],
  ['sqlplus', { slashCredential: true }],
  ['nmcli', { keywordValues: true }],
]);

/** Option names that take a value but hold no secret, although their name looks like one. */
const VALUELESS_SUFFIXES = ['stdin', 'prompt', 'length', 'policy', 'required', 'timeout', 'interval', 'file', 'path', 'dir', 'name', 'id', 'enabled', 'expiry', 'ttl', 'url', 'uri', 'type', 'mode'];
/** Names (lower case, separators removed) that hold a secret beyond the catalogue's S02/S03 names. */
const EXTRA_SECRET_NAMES = new Set(['pass', 'pw', 'auth', 'masterauth', 'requirepass', 'psk', 'sig', 'sshpass', 'passin', 'passout', 'authorization', 'proxyauthorization', 'rediscliauth', 'creds', 'xapikey', 'ocpapimsubscriptionkey', 'bearer', 'oauth2bearer']);
const EXTRA_SECRET_ENDINGS = ['pass', 'passphrase', 'psk', 'apikey', 'secretkey', 'accesskey'];
/** Authorization schemes: the secret is the word after them. */
const AUTH_SCHEMES = new Set(['bearer', 'basic', 'digest', 'token', 'sharedaccesssignature', 'negotiate', 'ntlm', 'apikey', 'sas']);

const verdicts = new Map<string, boolean>();
const VERDICTS_LIMIT = 4096;

/** A secret-like name: `password`, `PGPASSWORD`, `AccountKey`, `requirepass`, `sig`, `x-api-key`… (cached: names repeat). */
export function isRedactableName(name: string): boolean {
  if (name.length === 0 || name.length > 128) return false;
  const known = verdicts.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  let joined = '';
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) joined += lower[i];
  }
  const lastToken = lower.split(/[^a-z0-9]+/).filter(Boolean).pop() ?? '';
  const verdict =
    joined !== '' &&
    !VALUELESS_SUFFIXES.some((s) => joined.endsWith(s) && (lastToken === s || lastToken.endsWith(s))) &&
    (EXTRA_SECRET_NAMES.has(joined) || EXTRA_SECRET_ENDINGS.some((e) => joined.endsWith(e)) || isSecretName(name) || isKeyName(name));
  if (verdicts.size >= VERDICTS_LIMIT) verdicts.clear();
  verdicts.set(name, verdict);
  return verdict;
}

function isNameChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
}

function isQuote(c: number): boolean {
  return c === 34 || c === 39;
}

/** Characters that end a value inside a word: quotes, `;` `&` (connection strings, query strings), brackets. */
function endsValue(c: number): boolean {
  return c === 34 || c === 39 || c === 59 || c === 38 || c === 125 || c === 93 || c === 41 || c === 60 || c === 62;
}

/** A comma ends a value only when a `name=` follows (`-o user=u,password=p,vers=3`); else it may be part of a password. */
function commaStartsPair(s: string, comma: number): boolean {
  let j = comma + 1;
  while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
  return j > comma + 1 && s.charCodeAt(j) === 61;
}

/** What a scan of one word leaves for the next words. */
type Pending = { kind: 'none' } | { kind: 'value' } | { kind: 'credential'; separator: string } | { kind: 'auth' } | { kind: 'quote'; quote: string };
const NONE: Pending = { kind: 'none' };

interface WordScan {
  text: string;
  pending: Pending;
}

/**
 * Inside one word (no whitespace): `name=value`, `name:value`, `"name":"value"` with a secret-like name,
 * and `scheme://user:secret@`. One forward pass; every look-back or look-ahead stays inside a span the
 * pass then skips, so the cost is linear.
 */
function redactInWord(s: string): WordScan {
  if (s.indexOf('=') < 0 && s.indexOf(':') < 0) return { text: s, pending: NONE };
  let out = '';
  let copied = 0;
  let pending: Pending = NONE;
  let lastEnd = 0;
  for (let p = 0; p < s.length; p++) {
    const c = s.charCodeAt(p);
    if (c !== 61 && c !== 58) continue;
    if (c === 58 && s.charCodeAt(p + 1) === 47 && s.charCodeAt(p + 2) === 47) {
      // scheme://userinfo@ — userinfo ends at the first / @ ? # or quote.
      let q = p + 3;
      let colon = -1;
      while (q < s.length) {
        const d = s.charCodeAt(q);
        if (d === 47 || d === 64 || d === 63 || d === 35 || isQuote(d)) break;
        if (d === 58 && colon < 0) colon = q;
        q++;
      }
      if (s.charCodeAt(q) === 64 && colon >= 0 && q > colon + 1) {
        out += s.slice(copied, colon + 1) + REDACTED;
        copied = q;
      }
      p = q;
      lastEnd = q;
      continue;
    }
    // The name before the separator, past one closing quote: "password":"x".
    let nameEnd = p;
    if (nameEnd > lastEnd && isQuote(s.charCodeAt(nameEnd - 1))) nameEnd--;
    let nameStart = nameEnd;
    while (nameStart > lastEnd && nameEnd - nameStart < 128 && isNameChar(s.charCodeAt(nameStart - 1))) nameStart--;
    lastEnd = p + 1;
    const name = s.slice(nameStart, nameEnd);
    if (!isRedactableName(name.replace(/^-+/, ''))) continue;
    let v = p + 1;
    let quote = '';
    if (v < s.length && isQuote(s.charCodeAt(v))) quote = s[v++]!;
    if (v >= s.length) {
      // `Authorization:` then the value in the next word(s); `password=` alone holds nothing.
      if (c === 58 || quote) pending = quote ? { kind: 'quote', quote } : { kind: 'auth' };
      continue;
    }
    let e = v;
    while (e < s.length) {
      const d = s.charCodeAt(e);
      if (quote ? s[e] === quote : endsValue(d) || (d === 44 && commaStartsPair(s, e))) break;
      e++;
    }
    if (e === v) continue;
    out += s.slice(copied, v) + REDACTED;
    copied = e;
    if (quote && e >= s.length) pending = { kind: 'quote', quote };
    else if (e >= s.length && AUTH_SCHEMES.has(s.slice(v, e).toLowerCase())) pending = { kind: 'value' };
    p = e - 1;
    lastEnd = e;
  }
  return { text: copied === 0 ? s : out + s.slice(copied), pending };
}

/** A whole word as a secret, keeping its quotes; a value that opens a quote it does not close carries on. */
function redactWholeWord(word: string): WordScan {
  const lead = isQuote(word.charCodeAt(0)) ? word[0]! : '';
  const closes = lead !== '' && word.length > 1 && word.endsWith(lead);
  const last = word[word.length - 1]!;
  const trail = closes ? lead : lead === '' && word.length > 1 && isQuote(last.charCodeAt(0)) ? last : '';
  return { text: `${lead}${REDACTED}${trail}`, pending: lead !== '' && !closes ? { kind: 'quote', quote: lead } : NONE };
}

function redactAfter(word: string, separator: string): string {
  const at = word.indexOf(separator);
  if (at < 0 || at === word.length - 1) return word;
  const trail = isQuote(word.charCodeAt(word.length - 1)) ? word[word.length - 1]! : '';
  return `${word.slice(0, at + 1)}${REDACTED}${trail}`;
}

function stripQuotes(word: string): string {
  let a = 0;
  let b = word.length;
  while (a < b && isQuote(word.charCodeAt(a))) a++;
  while (b > a && isQuote(word.charCodeAt(b - 1))) b--;
  return word.slice(a, b);
}

function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

/**
 * Cheap first look: text with none of these cannot hold anything redactable: a separator of a
 * name=value, URL or user%password pair, a secret-ish word (option and variable names), or the name of
 * a program whose own flags or positions carry a secret.
 */
const MAYBE_SECRET = new RegExp(
  `[=:@%]|pass|pwd|pw\\b|secret|token|key|cred|auth|psk|sig|sas|bearer|\\b(?:${[...PROGRAMS.keys()].map((p) => p.replace(/[^\w]/g, '\\$&')).join('|')})\\b`,
  'i',
);

/** Per-program state while scanning the words after a program name. */
interface ProgramState {
  rule: ProgramRule;
  positionals: number;
  afterWordSeen: boolean;
  secretPositional: number;
  batch: boolean;
  lastPositional: number;
}

/** The text with its secrets replaced by `***` (the same string when there is none). */
export function redactCommandLine(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  const parts = text.split(/(\s+)/);
  let pending: Pending = NONE;
  let program: ProgramState | undefined;
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i]!;
    if (word === '') continue;
    const inner = stripQuotes(word);
    if (pending.kind !== 'none') {
      const was = pending;
      pending = NONE;
      if (was.kind === 'quote') {
        // The rest of a quoted secret: dropped with the space before it, up to the closing quote.
        const close = word.indexOf(was.quote);
        parts[i - 1] = '';
        parts[i] = close < 0 ? '' : word.slice(close);
        if (close < 0) pending = was;
        continue;
      }
      if (was.kind === 'auth' && AUTH_SCHEMES.has(inner.toLowerCase())) {
        pending = { kind: 'value' };
        continue;
      }
      if (!inner.startsWith('-') || inner === '-') {
        if (was.kind === 'credential') parts[i] = redactAfter(word, was.separator);
        else {
          const whole = redactWholeWord(word);
          parts[i] = whole.text;
          pending = whole.pending;
        }
        continue;
      }
    }
    // A program name starts a new program; a path only when none is known yet (`htpasswd -b /etc/nginx/htpasswd …`).
    const rule = program && (inner.includes('/') || PROGRAMS.get(inner) === program.rule) ? undefined : PROGRAMS.get(basename(inner));
    if (rule) {
      if (program?.rule.batchLastPositional && program.batch) redactLastPositional(parts, program);
      program = { rule, positionals: 0, afterWordSeen: false, secretPositional: 0, batch: false, lastPositional: -1 };
      continue;
    }
    if (inner.length > 1 && inner.startsWith('-')) {
      const handled = program ? programOption(program, inner, word) : undefined;
      if (handled) {
        if (handled.text !== undefined) parts[i] = handled.text;
        pending = handled.pending;
        continue;
      }
      const dashes = inner.startsWith('--') ? 2 : 1;
      const body = inner.slice(dashes);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      if (isRedactableName(name)) {
        if (eq < 0) pending = { kind: 'value' };
        else if (eq < body.length - 1) {
          const scan = redactInWord(word);
          parts[i] = scan.text;
          pending = scan.pending;
        }
        continue;
      }
    } else if (program) {
      const secret = programPositional(program, inner, i);
      if (secret) {
        if (secret === 'slash') parts[i] = redactSlashCredential(word);
        else {
          const whole = redactWholeWord(word);
          parts[i] = whole.text;
          pending = whole.pending;
        }
        continue;
      }
      if (program.rule.keywordValues && isRedactableName(inner.slice(inner.lastIndexOf('.') + 1))) {
        pending = { kind: 'value' };
        continue;
      }
    }
    const scan = redactInWord(word);
    parts[i] = scan.text;
    pending = scan.pending;
  }
  if (program?.rule.batchLastPositional && program.batch) redactLastPositional(parts, program);
  return parts.join('');
}

/** A program's own flags (`redis-cli -a x`, `curl -u u:x`, `mysql -px`); undefined when the option is not one of them. */
function programOption(program: ProgramState, inner: string, word: string): { text?: string; pending: Pending } | undefined {
  const rule = program.rule;
  if (rule.batchLastPositional && !inner.startsWith('--') && inner.slice(1).includes(rule.batchLastPositional)) {
    program.batch = true;
    return { pending: NONE };
  }
  if (rule.afterWord && !program.afterWordSeen) return undefined;
  const eq = inner.indexOf('=');
  const flag = eq < 0 ? inner : inner.slice(0, eq);
  if (rule.valueFlags?.includes(flag)) {
    if (eq < 0) return { pending: { kind: 'value' } };
    return { text: `${word.slice(0, word.indexOf('=') + 1)}${REDACTED}`, pending: NONE };
  }
  if (rule.credentialFlags?.includes(flag)) {
    const separator = rule.credentialSeparator ?? ':';
    if (eq < 0) return { pending: { kind: 'credential', separator } };
    return { text: redactAfter(word, separator), pending: NONE };
  }
  if (!inner.startsWith('--') && inner.length > 2) {
    const letter = inner[1]!;
    if (rule.attachedFlags?.includes(letter)) return { text: `${word.slice(0, word.indexOf(letter) + 1)}${REDACTED}`, pending: NONE };
    if (rule.credentialFlags?.includes(`-${letter}`)) return { text: redactAfter(word, rule.credentialSeparator ?? ':'), pending: NONE };
    if (!rule.attachedOnly && rule.valueFlags?.includes(`-${letter}`) && letter !== letter.toLowerCase()) return { text: `${word.slice(0, word.indexOf(letter) + 1)}${REDACTED}`, pending: NONE };
  }
  return undefined;
}

/** Whether this positional word of a program is a secret ('slash': `user/secret@db`). */
function programPositional(program: ProgramState, inner: string, index: number): boolean | 'slash' {
  const rule = program.rule;
  program.positionals++;
  program.lastPositional = index;
  if (rule.afterWord && inner === rule.afterWord) program.afterWordSeen = true;
  if (rule.slashCredential && program.positionals === 1 && inner.includes('/')) return 'slash';
  for (const p of rule.positional ?? []) {
    if (p.word === undefined) {
      if (program.positionals === p.index) return true;
    } else if (program.positionals === 1 && inner === p.word) {
      program.secretPositional = p.index;
    }
  }
  return program.secretPositional > 0 && program.positionals === program.secretPositional;
}

function redactLastPositional(parts: string[], program: ProgramState): void {
  if (program.lastPositional >= 0 && program.positionals >= 2) parts[program.lastPositional] = redactWholeWord(parts[program.lastPositional]!).text;
  program.batch = false;
}

function redactSlashCredential(word: string): string {
  const slash = word.indexOf('/');
  const at = word.indexOf('@', slash);
  return `${word.slice(0, slash + 1)}${REDACTED}${at >= 0 ? word.slice(at) : ''}`;
}
