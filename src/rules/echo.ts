import { bounded } from '../core/text-escape';

/**
 * What a finding message may repeat of its input. Findings leave the device and land in CI logs:
 * they say where and what kind, never a secret. Every value or name from the input passes through
 * here before it goes into a message: control characters escaped, length bounded, and anything
 * that can hold a credential (user:password@ in a URL or reference, key=value secrets) replaced by
 * a neutral description.
 */

/** Longest value repeated in a message. */
export const MAX_ECHO = 100;

/** Names (env names, keys) shown as they are: what a program would use as an identifier. */
const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/;

/** key=value or key: value forms of secrets (connection strings, SAS, passwords). */
const SECRET_ASSIGNMENT = /(?:sharedaccesskey|accountkey|sharedaccesssignature|password|passwd|pwd|secret|token|apikey|sig)\s*[=:]/i;

/** A digest after `@` in an image reference is no credential. */
const DIGEST_AFTER_AT = /^(sha256|sha384|sha512):/i;

/** True when the text has the shape of user:password@host or user@host (the authority of a URL or reference). */
function hasUserInfo(text: string): boolean {
  const withoutScheme = text.replace(/^[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\//, '');
  // The authority ends at the first '/', '?' or '#'; an '@' inside it introduces user info.
  let end = withoutScheme.length;
  for (const c of ['/', '?', '#']) {
    const i = withoutScheme.indexOf(c);
    if (i >= 0 && i < end) end = i;
  }
  const authority = withoutScheme.slice(0, end);
  const at = authority.indexOf('@');
  if (at >= 0 && !DIGEST_AFTER_AT.test(authority.slice(at + 1))) return true;
  // A URL anywhere inside (an Env entry, a command line) with user info.
  return /:\/\/[^/\s@]*@/.test(text);
}

/** True when a value may hold a credential and must not be repeated. */
export function mayHoldSecret(text: string): boolean {
  return hasUserInfo(text) || SECRET_ASSIGNMENT.test(text);
}

/** A value for a message: quoted, bounded, escaped; or a description of it when it may hold a secret. */
export function echoValue(value: string, max = MAX_ECHO): string {
  const text = value.trim();
  if (mayHoldSecret(text)) return `(a value of ${text.length} characters, not shown: it may hold credentials)`;
  return `"${bounded(text, max)}"`;
}

/** Like echoValue, without the quotes (for values inside a sentence, e.g. an image reference). */
export function echoBare(value: string, max = MAX_ECHO): string {
  const text = value.trim();
  if (mayHoldSecret(text)) return `(a value of ${text.length} characters, not shown: it may hold credentials)`;
  return bounded(text, max);
}

/** A name (env name, key) for a message, or undefined when it is not a plain identifier and may hold anything. */
export function echoName(name: string): string | undefined {
  return PLAIN_NAME.test(name) && !mayHoldSecret(name) ? name : undefined;
}
